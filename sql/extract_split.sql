-- Global time split and final sessions. Events before the cut train, the rest test; a
-- session crossing the cut is split there, so nothing later leaks into training. Long
-- sessions are cut into chunks; parts shorter than the minimum are dropped.
create or replace table events as
with sessionized as (
    select * from sessionized_events
),

cut as (
    select quantile_disc(ts, 1 - $test_fraction) as cut_ts
    from sessionized
),

labelled as (
    select
        s.*,
        case when s.ts < c.cut_ts then 'train' else 'test' end as split
    from sessionized as s
    cross join cut as c
),

positioned as (
    select
        *,
        row_number() over (
            partition by user_id, session_key, split order by ts, input_order
        ) as raw_pos
    from labelled
),

chunked as (
    select
        *,
        (raw_pos - 1) // $max_session_length as chunk
    from positioned
),

sized as (
    select
        *,
        count(*) over (partition by user_id, session_key, split, chunk) as session_length
    from chunked
),

final as (
    select
        dense_rank() over (order by user_id, session_key, split, chunk) as session,
        user_id,
        item_id,
        ts,
        event_type,
        split,
        row_number() over (
            partition by user_id, session_key, split, chunk order by ts, input_order
        ) as pos,
        session_length,
        input_order
    from sized
    where session_length >= $min_session_length
)

select * from final
