-- Sessions: the given session id, or a new session after an inactivity gap; ties in time
-- keep input order. Consecutive repeats of one item inside a session are collapsed. `seq`
-- numbers each session's kept events 1, 2, ... in (ts, input order), so extract_split gets
-- positions without sorting the events again.
create or replace table sessionized_events as
with valid as (
    select * exclude (type_kept, is_duplicate, drop_rule)
    from valid_events
    where drop_rule is null
),

gaps as (
    select
        *,
        lag(ts) over by_user as prev_ts,
        lag(item_id) over by_user as prev_item,
        lag(session_ref) over by_user as prev_ref
    from valid
    window by_user as (partition by user_id order by ts, input_order)
),

flagged as (
    select
        *,
        prev_ts is null or epoch(ts) - epoch(prev_ts) > $gap_seconds as starts_gap_session,
        -- A repeat is the user's previous event in the same session on the same item (with
        -- a session_id column: the user's previous event, if it has the same session_id).
        $collapse_repeats
        and coalesce(prev_item = item_id, false)
        and case
            when $use_session_ref then prev_ref is not distinct from session_ref
            else prev_ts is not null and epoch(ts) - epoch(prev_ts) <= $gap_seconds
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
    from flagged
    window by_session as (
        partition by user_id, session_ref order by ts, input_order rows unbounded preceding
    )
),

final as (
    select
        * exclude (
            prev_ts, prev_item, prev_ref, starts_gap_session, is_repeat, gap_session, session_ref
        ),
        case
            when $use_session_ref then coalesce(session_ref, '')
            else cast(gap_session as varchar)
        end as session_key
    from numbered
    where not is_repeat
)

select * from final
