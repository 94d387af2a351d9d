-- Rows in/out of each extraction rule, sessions per split, items unseen in training and a
-- session-length histogram, for the stage artifact and the manifest.
with valid as (
    select
        count(*) as usable,
        count(*) filter (where drop_rule = 'event_type') as dropped_event_type,
        count(*) filter (where drop_rule = 'duplicate') as dropped_duplicates,
        count(*) filter (where drop_rule = 'bot_user') as dropped_bot_events,
        count(distinct user_id) filter (where drop_rule = 'bot_user') as bot_users,
        count(*) filter (where drop_rule = 'rare_item') as dropped_rare_items,
        count(*) filter (where drop_rule = 'sparse_user') as dropped_sparse_users,
        count(*) filter (where drop_rule is null) as kept
    from valid_events
),

per_split as (
    select
        count(*) filter (where split = 'train') as train_events,
        count(*) filter (where split = 'validation') as validation_events,
        count(*) filter (where split = 'test') as test_events,
        count(*) as rows_out,
        count(distinct user_id) as users,
        min(ts) filter (where split = 'test') as cut_ts,
        min(ts) filter (where split = 'validation') as validation_cut_ts
    from events
),

session_sizes as (
    -- one row per session (a session is in one split): counts and lengths from here
    select any_value(split) as split, any_value(session_length) as length
    from events
    group by session
),

sessions as (
    select
        count(*) filter (where split = 'train') as train_sessions,
        count(*) filter (where split = 'validation') as validation_sessions,
        count(*) filter (where split = 'test') as test_sessions
    from session_sizes
),

unseen as (
    select
        count(*) filter (where e.split = 'test') as test_unseen_events,
        count(distinct e.item_id) filter (where e.split = 'test') as test_unseen_items,
        count(*) filter (where e.split = 'validation') as validation_unseen_events,
        count(distinct e.item_id) filter (where e.split = 'validation') as validation_unseen_items
    from events as e
    anti join items as i on e.item_id = i.item_id
    where e.split <> 'train'
),

lengths as (
    -- bucket 50 holds every session of 50 or more events
    select histogram(least(length, 50)) as session_length_histogram
    from session_sizes
),

rows_in as (
    select count(*) as rows_in from typed_events
),

sessionized as (
    select count(*) as sessionized from sessionized_events
),

final as (
    select
        i.rows_in,
        i.rows_in - v.usable as dropped_invalid,
        v.dropped_event_type,
        v.dropped_duplicates,
        v.dropped_bot_events,
        v.bot_users,
        v.dropped_rare_items,
        v.dropped_sparse_users,
        v.kept - z.sessionized as collapsed_repeats,
        z.sessionized - p.rows_out as dropped_short_sessions,
        p.train_events,
        p.validation_events,
        p.test_events,
        n.train_sessions,
        n.validation_sessions,
        n.test_sessions,
        p.rows_out,
        p.users,
        p.cut_ts,
        p.validation_cut_ts,
        u.*,
        (select count(*) from items) as train_items,
        l.session_length_histogram
    from valid as v
    cross join rows_in as i
    cross join sessionized as z
    cross join per_split as p
    cross join sessions as n
    cross join unseen as u
    cross join lengths as l
)

select * from final
