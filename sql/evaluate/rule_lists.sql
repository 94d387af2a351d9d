-- A sequential-rule list per wanted item (`pair_counts`), inserted as source $source: item j
-- scores for item i the sum over pairs (i, j) at distance d <= $steps of a weight of d
-- ($weighting: same 1, linear 1/d, log 1/log2(d+1), quadratic 1/d^2), counting j before i
-- too when $both. Special cases: the directed next-item co-occurrence baseline (steps 1,
-- forward, same) and the windowed co-occurrence (steps w, both, same). Top $depth kept;
-- scores are rounded to 9 decimals, so equal sums tie (broken by item id) whatever order
-- the floating-point additions took.
insert into candidates
with counted as (
    select * from pair_counts
),

scored as (
    select
        src as query_id,
        dst as item_id,
        round(sum(
            n * case $weighting
                when 'same' then 1.0
                when 'linear' then 1.0 / d
                when 'log' then 1.0 / log2(d + 1)
                when 'quadratic' then 1.0 / (d * d)
            end
        ), 9) as score
    from counted
    where d <= $steps and (forward or $both)
    group by all
),

ranked as (
    select
        query_id,
        item_id,
        score,
        row_number() over (partition by query_id order by score desc, item_id) as rank
    from scored
    qualify rank <= $depth
),

final as (
    select $source as source, query_id, rank, item_id, score from ranked
)

select * from final
