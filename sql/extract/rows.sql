-- Every input row, typed, tagged with the first cleaning rule that drops it (drop_rule NULL
-- = kept) and, for kept rows, its session: one pass and one stored table, which the views
-- valid_events and sessionized_events read (docs/extract.md).
-- Rules, in order: unusable rows ('invalid': no id, no/unparseable/out-of-range time);
-- event_type filter; near duplicates (same user, item and type as that key's previous event
-- within $dedup_seconds; 0 = exact duplicates, found by a hash aggregate, not a sort); bot
-- users (too many events overall or in one calendar minute); rare items (< $min_item_count
-- events); sparse users (< $min_user_events).
-- Support rules are applied once, in this order, not iterated to a fixed point.
-- Sessions: the given session id, or a new session after an inactivity gap; ties in time
-- keep input order. Consecutive repeats of one item inside a session are collapsed (seq
-- NULL). `seq` numbers each session's kept events 1, 2, ... in (ts, input order), so
-- extract/split gets positions without sorting the events again.
-- Windows partition by "usable" / "kept" first, so a dropped row is never the previous
-- event of a kept one: the same result as running each window over the kept rows only.
create or replace table typed_events as
with typed as not materialized (
    select * from typed_rows($timestamp_unit, $timestamp_format)
),

checked as not materialized (
    select
        *,
        coalesce(
            user_id is not null
            and item_id is not null
            and ts is not null
            and ts >= $min_ts
            and ts <= $max_ts,
            false
        ) as usable,
        -- a row without an event type is not of a listed type (list_contains gives NULL,
        -- which would keep the row here but leave it out of every count below)
        (
            $event_types is null or coalesce(list_contains($event_types, event_type), false)
        ) as type_kept
    from typed
),

trimmed as not materialized (
    -- The raw time text only for rows dropped as unusable or by event type (what the
    -- quality stage's examples show): a column of unique strings is the most expensive one
    -- to sort and store, so it goes before the windows.
    select
        * exclude (ts_text),
        case when not usable or not type_kept then ts_text end as ts_text
    from checked
),

near_duplicates as (
    -- $dedup_seconds > 0: each row against its key's previous event in time order (a sort
    -- of every row).
    select
        *,
        coalesce(
            epoch(ts) - epoch(
                lag(ts) over (
                    partition by usable, user_id, item_id, event_type order by ts, input_order
                )
            ) <= $dedup_seconds,
            false
        ) as is_duplicate
    from trimmed
    where $dedup_seconds > 0
),

repeated_times as (
    -- $dedup_seconds = 0: the same rule finds a row a duplicate exactly when an earlier row
    -- in (ts, input order) has its key and time (compared as the window compares them, in
    -- epoch seconds), so only keys whose time repeats need a verdict: a hash aggregate
    -- finds them, and each one's first row, without sorting every row. The first row is
    -- the least (microseconds, input order), packed in one HUGEINT to take one min().
    select
        usable,
        user_id,
        item_id,
        event_type,
        epoch(ts) as epoch_ts,
        min(epoch_us(ts)::hugeint * 9223372036854775808 + input_order) as first_row
    from checked
    where $dedup_seconds = 0 and ts is not null
    group by all
    having count(*) > 1
),

exact_duplicates as (
    select
        t.*,
        coalesce(
            epoch_us(t.ts)::hugeint * 9223372036854775808 + t.input_order <> r.first_row,
            false
        ) as is_duplicate
    from trimmed as t
    left join repeated_times as r
        on
            t.usable = r.usable
            and t.user_id is not distinct from r.user_id
            and t.item_id is not distinct from r.item_id
            and t.event_type is not distinct from r.event_type
            and epoch(t.ts) = r.epoch_ts
    where $dedup_seconds = 0
),

flagged as (
    select * from near_duplicates
    union all by name
    select * from exact_duplicates
),

kept as (
    select user_id, item_id, ts
    from flagged
    where usable and type_kept and not is_duplicate
),

per_minute as (
    -- only when a bot limit is set (else no user can exceed one: nothing to count)
    select user_id, count(*) as events
    from kept
    where $max_user_events is not null or $max_events_per_minute is not null
    group by user_id, date_trunc('minute', ts)
),

bot_users as (
    select user_id
    from per_minute
    group by user_id
    having
        sum(events) > coalesce($max_user_events, 9223372036854775807)
        or max(events) > coalesce($max_events_per_minute, 9223372036854775807)
),

human as (
    -- only when a support rule is set (a minimum of 1 drops nothing)
    select k.item_id, k.user_id
    from kept as k
    anti join bot_users as b on k.user_id = b.user_id
    where $min_item_count > 1 or $min_user_events > 1
),

item_counts as (
    -- prior_item_counts: an incremental run's events of users it does not recompute
    -- (tasks/extract/incremental.py; empty on a full run), so the count covers the whole log
    select item_id, count(*) as events
    from human
    group by item_id
    union all
    select item_id, events
    from prior_item_counts
),

rare_items as (
    select item_id
    from item_counts
    group by item_id
    having sum(events) < $min_item_count
),

sparse_users as (
    select h.user_id
    from human as h
    anti join rare_items as r on h.item_id = r.item_id
    group by h.user_id
    having count(*) < $min_user_events
),

tagged as (
    select
        f.* exclude (usable),
        case
            when not f.usable then 'invalid'
            when not f.type_kept then 'event_type'
            when f.is_duplicate then 'duplicate'
            when b.user_id is not null then 'bot_user'
            when r.item_id is not null then 'rare_item'
            when s.user_id is not null then 'sparse_user'
        end as drop_rule
    from flagged as f
    left join bot_users as b on f.user_id = b.user_id
    left join rare_items as r on f.item_id = r.item_id
    left join sparse_users as s on f.user_id = s.user_id
),

gaps as (
    select
        *,
        drop_rule is null as is_kept,
        lag(ts) over by_user as prev_ts,
        lag(item_id) over by_user as prev_item,
        lag(session_ref) over by_user as prev_ref,
        -- The user's previous event without a session_id: such rows (all of them when
        -- there is no such column) are cut into sessions at the time gap. The same window
        -- as the rest, so no second sort of every row.
        lag(case when session_ref is null then ts end ignore nulls) over by_user as prev_free_ts
    from tagged
    window by_user as (partition by drop_rule is null, user_id order by ts, input_order)
),

flagged_repeats as (
    -- the previous event's columns are not carried into the next sort
    select
        * exclude (prev_ts, prev_item, prev_ref, prev_free_ts),
        prev_free_ts is null
        or epoch(ts) - epoch(prev_free_ts) > $gap_seconds as starts_gap_session,
        -- A repeat is the user's previous event in the same session on the same item (with
        -- a session_id column: the user's previous event, if it has the same session_id;
        -- rows without one: if it has none either and is within the gap).
        $collapse_repeats
        and coalesce(prev_item = item_id, false)
        and case
            when $use_session_ref and session_ref is not null then prev_ref = session_ref
            else prev_ref is null
                and prev_ts is not null and epoch(ts) - epoch(prev_ts) <= $gap_seconds
        end as is_repeat
    from gaps
),

numbered as (
    -- Without a session_id column session_ref is NULL on every row, so this is one
    -- partition per user (gap sessions); with it, one per given session.
    select
        *,
        sum(starts_gap_session::int) over by_session as gap_session,
        cast(sum((not is_repeat)::int) over by_session as bigint) as seq
    from flagged_repeats
    window by_session as (
        partition by is_kept, user_id, session_ref
        order by ts, input_order
        rows unbounded preceding
    )
),

final as (
    select
        input_order,
        user_id,
        item_id,
        ts,
        ts_text,
        event_type,
        session_ref,
        type_kept,
        is_duplicate,
        drop_rule,
        case when is_kept and not is_repeat then seq end as seq,
        case
            when not is_kept or is_repeat then null
            -- A blank session_id is no session: such rows get gap sessions, keyed apart
            -- from every given id (chr(1) starts none in practice).
            when $use_session_ref then coalesce(session_ref, chr(1) || cast(gap_session as varchar))
            else cast(gap_session as varchar)
        end as session_key
    from numbered
)

select * from final
