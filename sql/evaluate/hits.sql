-- The hits only: rank of the target in each source's list, for the test pairs whose target
-- is in that list (lists hold an item at most once). Misses are implicit: metrics divide by
-- the number of test pairs, so a query without a list is a miss. Computed once; metrics
-- and slices aggregate it. An inner join keeps it to (pairs x hit rate) rows.
create or replace temp table hits as
with pairs as (
    select pair_id, query_id, target_id from test_pairs
),

final as (
    select c.source, p.pair_id, c.rank as hit_rank
    from pairs as p
    inner join candidates as c
        on c.query_id = p.query_id and c.item_id = p.target_id
)

select * from final
