-- The share of held-out sessions the evaluation scores, in millionths: every one while the
-- test split holds at most $max_cases next-item cases (NULL: no bound), else a share that
-- gives about $max_cases of them. Sessions are then drawn by a hash of their number
-- (evaluate/pairs, test_items, wanted_items), so shards and reruns draw the same ones.
with test_events as (
    select session from events where split = 'test'
),

counted as (
    select count(*) - count(distinct session) as cases from test_events
),

final as (
    select
        case
            when cast($max_cases as bigint) is null or cases <= $max_cases then 1000000
            else greatest(1, floor(1000000.0 * $max_cases / cases))::bigint
        end as sample_ppm
    from counted
)

select * from final
