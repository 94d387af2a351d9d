-- Global time split and final sessions. Events before the validation cut train, those from
-- it to the test cut validate, the rest test (cuts are dates when given, else quantiles of
-- time); a session crossing a cut is split there, so nothing later leaks into an earlier
-- split. Long sessions are cut into chunks; parts shorter than the minimum are dropped. Each
-- final session carries the largest event-type weight of its events (default 1).
-- Positions come from extract_sessions' `seq` (a session's events are consecutive in it and
-- a split is a time range, so each session part is a run of seq); per-part sizes and
-- session numbers are hash aggregates over parts, so the events are not sorted again.
create or replace table events as
with sessionized as not materialized (
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

labelled as not materialized (
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

part_starts as (
    select user_id, session_key, split, min(seq) as first_seq
    from labelled
    group by all
),

chunked as (
    select
        l.*,
        (l.seq - p.first_seq) // $max_session_length as chunk,
        (l.seq - p.first_seq) % $max_session_length + 1 as pos
    from labelled as l
    inner join part_starts as p
        on l.user_id = p.user_id and l.session_key = p.session_key and l.split = p.split
),

parts as (
    select
        user_id,
        session_key,
        split,
        chunk,
        count(*) as session_length,
        max(weight) as session_weight
    from chunked
    group by all
    having count(*) >= $min_session_length
),

numbered as (
    select
        *,
        row_number() over (order by user_id, session_key, split, chunk) as session
    from parts
),

final as (
    select
        n.session,
        c.user_id,
        c.item_id,
        c.ts,
        c.event_type,
        c.split,
        c.pos,
        n.session_length,
        c.input_order,
        n.session_weight
    from chunked as c
    inner join numbered as n
        on
            c.user_id = n.user_id
            and c.session_key = n.session_key
            and c.split = n.split
            and c.chunk = n.chunk
)

select * from final
