-- The users an incremental run re-cleans and re-sessionizes: those marked in the warehouse
-- (rows inserted, replaced or deleted since their results were stored), those with a row
-- that has no stored result, and those with a row between the last run's future bound and
-- this run's (its usable/unusable verdict flips). Everyone else keeps their stored results:
-- every rule but the rare-item one looks at one user's rows only (extract/rare_flips).
create or replace temp table recompute_users as
with marked as (
    select user_id from read_parquet($marks)
),

rows_changed as (
    select user_id
    from warehouse_rows
    where
        user_id is not null
        and (not has_result or (ts > $band_low and ts <= $band_high))
),

final as (
    select distinct user_id
    from (
        select user_id from marked
        union all
        select user_id from rows_changed
    )
    where user_id is not null
)

select * from final
