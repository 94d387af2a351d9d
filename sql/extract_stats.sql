-- Rows in/out of each extraction rule, for the stage artifact and the manifest.
with valid as (
    select
        count(*) as usable,
        count(*) filter (where not type_kept) as dropped_event_type,
        count(*) filter (where type_kept and is_duplicate) as dropped_duplicates
    from valid_events
),

final as (
    select
        (select count(*) from typed_events) as rows_in,
        (select count(*) from typed_events) - v.usable as dropped_invalid,
        v.dropped_event_type,
        v.dropped_duplicates,
        v.usable - v.dropped_event_type - v.dropped_duplicates
        - (select count(*) from sessionized_events) as collapsed_repeats,
        (select count(*) from sessionized_events)
        - (select count(*) from events) as dropped_short_sessions,
        (select count(*) from events) as rows_out,
        (select count(*) from events where split = 'train') as train_events,
        (select count(*) from events where split = 'test') as test_events,
        (select count(distinct session) from events where split = 'train') as train_sessions,
        (select count(distinct session) from events where split = 'test') as test_sessions,
        (select count(*) from items) as train_items,
        (select count(distinct user_id) from events) as users,
        (select min(ts) from events where split = 'test') as cut_ts
    from valid as v
)

select * from final
