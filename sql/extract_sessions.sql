-- Sessions: the given session id, or a new session after an inactivity gap; ties in time
-- keep input order. Consecutive repeats of one item inside a session are collapsed.
create or replace table sessionized_events as
with valid as (
    select * exclude (type_kept, is_duplicate, drop_rule)
    from valid_events
    where drop_rule is null
),

gaps as (
    select
        *,
        lag(ts) over (partition by user_id order by ts, input_order) as prev_ts
    from valid
),

numbered as (
    select
        *,
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

keyed as (
    select
        * exclude (prev_ts, gap_session),
        case
            when $use_session_ref then coalesce(session_ref, '')
            else cast(gap_session as varchar)
        end as session_key
    from numbered
),

with_prev_item as (
    select
        *,
        lag(item_id) over (
            partition by user_id, session_key order by ts, input_order
        ) as prev_item
    from keyed
),

final as (
    select * exclude (prev_item)
    from with_prev_item
    where not ($collapse_repeats and prev_item is not null and prev_item = item_id)
)

select * from final
