-- Users in typed_events (how many a full recompute re-cleaned).
with typed as (
    select user_id from typed_events
),

final as (
    select count(distinct user_id) as typed_users from typed
)

select * from final
