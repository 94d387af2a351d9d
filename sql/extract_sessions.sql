-- Sessions: the given session id, or a new session after an inactivity gap; ties in time
-- keep input order. Consecutive repeats of one item inside a session are collapsed.
create or replace table sessionized_events as
with valid as (
    select * exclude (type_kept, is_duplicate, drop_rule)
    from valid_events
    where drop_rule is null
),

gaps as (
    -- One sort per user serves the gap, the session number and the repeat check.
    select
        *,
        lag(ts) over by_user as prev_ts,
        lag(item_id) over by_user as prev_item,
        lag(session_ref) over by_user as prev_ref
    from valid
    window by_user as (partition by user_id order by ts, input_order)
),

numbered as (
    select
        *,
        case
            when $use_session_ref then prev_ref is not distinct from session_ref
            else prev_ts is not null and epoch(ts) - epoch(prev_ts) <= $gap_seconds
        end as same_session,
        sum(
            case
                when prev_ts is null then 1
                when epoch(ts) - epoch(prev_ts) > $gap_seconds then 1
                else 0
            end
        ) over (
            partition by user_id order by ts, input_order rows unbounded preceding
        ) as gap_session
    from gaps
),

final as (
    -- A repeat is the user's previous event in the same session on the same item (with a
    -- session_id column: the user's previous event, if it has the same session_id).
    select
        * exclude (prev_ts, prev_item, prev_ref, gap_session, same_session),
        case
            when $use_session_ref then coalesce(session_ref, '')
            else cast(gap_session as varchar)
        end as session_key
    from numbered
    where not ($collapse_repeats and same_session and prev_item = item_id)
)

select * from final
