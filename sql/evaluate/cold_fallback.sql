-- What the published lists hold for a query the model cannot answer (an item without a
-- vector, a session without a known item): the popularity fallback the export writes and
-- serving answers with. Copied from the source $fallback's lists into $source's.
insert into {{lists}}
with answered as (
    select distinct query_id from {{lists}} where source = $source
),

final as (
    select $source as source, query_id, rank, item_id, score
    from {{lists}}
    where source = $fallback and query_id not in (select query_id from answered)
)

select * from final
