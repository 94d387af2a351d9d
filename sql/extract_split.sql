-- Global time split and final sessions. Events before the validation cut train, those from
-- it to the test cut validate, the rest test (cuts are dates when given, else quantiles of
-- time); a session crossing a cut is split there, so nothing later leaks into an earlier
-- split. Long sessions are cut into chunks; parts shorter than the minimum are dropped. Each
-- final session carries the largest event-type weight of its events (default 1).
create or replace table events as
with sessionized as (
    select * from sessionized_events
),

quantiles as (
    select
        quantile_disc(ts, 1 - $test_fraction) as test_q,
        quantile_disc(ts, 1 - ($test_fraction + $validation_fraction)) as validation_q
    from sessionized
),

cuts as (
    select
        coalesce($test_start, test_q) as test_cut,
        case
            when $test_start is not null then $validation_start
            when $validation_fraction > 0 then validation_q
        end as validation_cut
    from quantiles
),

labelled as (
    select
        s.*,
        case
            when s.ts >= c.test_cut then 'test'
            when s.ts >= c.validation_cut then 'validation'
            else 'train'
        end as split,
        coalesce(
            list_extract($weight_values, list_position($weight_types, s.event_type)), 1
        ) as weight
    from sessionized as s
    cross join cuts as c
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
        count(*) over (partition by user_id, session_key, split, chunk) as session_length,
        max(weight) over (partition by user_id, session_key, split, chunk) as session_weight
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
        -- raw_pos already orders by (ts, input_order): no second sort for the position.
        raw_pos - chunk * $max_session_length as pos,
        session_length,
        input_order,
        session_weight
    from sized
    where session_length >= $min_session_length
)

select * from final
