-- How much an incremental run recomputed: rows in typed_events so far and users in the
-- recompute set.
with counts as (
    select
        (select count(*) from typed_events) as typed_rows,
        (select count(*) from recompute_users) as recompute_users
),

final as (
    select * from counts
)

select * from final
