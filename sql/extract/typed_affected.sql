-- typed_rows for an incremental run that recomputes only some users: their rows, and the
-- rows without a user (unusable, never stored, so always recomputed).
create or replace temp macro typed_rows(timestamp_unit, timestamp_format) as table
with stored as (
    select * from warehouse_rows
),

recompute as (
    select user_id from recompute_users
),

final as (
    select s.* exclude (result, has_result)
    from stored as s
    where s.user_id is null or s.user_id in (select user_id from recompute)
)

select * from final
