-- One row of aggregates over the cleaned, sessionized events for the sessions checkpoint:
-- session-length distribution (before chunking), sessions per user, and the share of
-- events made by bot-like users (more events than a person makes, or too many per minute).
with sessions as (
    select user_id, session_key, count(*) as length
    from sessionized_events
    group by user_id, session_key
),

per_user as (
    select user_id, count(*) as sessions, sum(length) as events
    from sessions
    group by user_id
),

per_minute as (
    select user_id, max(n) as peak_per_minute
    from (
        select user_id, count(*) as n
        from sessionized_events
        group by user_id, time_bucket(interval 1 minute, ts)
    )
    group by user_id
),

bots as (
    select u.user_id, u.events
    from per_user as u
    inner join per_minute as m on u.user_id = m.user_id
    where u.events > $bot_max_user_events or m.peak_per_minute > $bot_max_events_per_minute
),

final as (
    select
        (select count(*) from events) as events,
        (select count(distinct session) from events where split = 'train') as train_sessions,
        (select count(distinct session) from events where split = 'test') as test_sessions,
        (select count(distinct user_id) from events) as users,
        (select count(*) from sessions) as sessions,
        (select coalesce(max(length), 0) from sessions) as max_session_length,
        (select coalesce(avg(length), 0) from sessions) as mean_session_length,
        (select coalesce(quantile_cont(length, 0.99), 0) from sessions) as p99_session_length,
        (
            select coalesce(avg(case when length = 1 then 1.0 else 0.0 end), 0)
            from sessions
        ) as single_event_session_share,
        (select coalesce(max(sessions), 0) from per_user) as max_sessions_per_user,
        (select count(*) from bots) as bot_users,
        coalesce(
            (select sum(events) from bots) / nullif((select sum(events) from per_user), 0), 0
        ) as bot_event_share,
        (select coalesce(min(session_length), 0) from events) as min_session_length
)

select * from final
