-- One row of aggregates over the cleaned, sessionized events for the sessions checkpoint.
with sessions as (
    select user_id, session_key, count(*) as length
    from sessionized_events
    group by user_id, session_key
),

final as (
    select
        (select count(*) from events) as events,
        (select count(distinct session) from events where split = 'train') as train_sessions,
        (select count(distinct session) from events where split = 'test') as test_sessions,
        (select count(*) from items) as train_items,
        (select count(distinct user_id) from events) as users,
        (select coalesce(max(length), 0) from sessions) as max_session_length,
        (select coalesce(avg(length), 0) from sessions) as mean_session_length,
        (select coalesce(min(session_length), 0) from events) as min_session_length
)

select * from final
