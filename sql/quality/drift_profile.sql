-- One row of the volumes that drift is measured on (events per day over the data's own
-- time span, distinct users and items, mean session length) for quality_profile.json.
with final as (
    select
        count(*) as events,
        count(distinct user_id) as users,
        count(distinct item_id) as items,
        greatest(epoch(max(ts)) - epoch(min(ts)), 86400) / 86400.0 as days,
        count(*) / (greatest(epoch(max(ts)) - epoch(min(ts)), 86400) / 86400.0)
            as events_per_day,
        coalesce(count(*) / nullif(count(distinct session), 0), 0) as mean_session_length
    from events
)

select * from final
