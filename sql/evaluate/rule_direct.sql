-- One sequential-rule list per wanted item, counted straight from the sessions of $splits
-- and inserted as source $source: what rule_lists sums from pair_counts, in one aggregation
-- of (item, item) weights instead of a table per distance and direction, for when a single
-- rule is wanted (the export's count channel over every item). Pairs are found as in
-- pair_counts (blocks of $steps positions); item j scores for item i the sum over the pairs
-- (i, j) at distance d <= $steps of a weight of d ($weighting), j before i counted too when
-- $both. Top $depth kept; scores rounded to 9 decimals, as in rule_lists.
insert into candidates
with session_events as (
    select session, pos, item_id, pos // $steps as block
    from events
    where list_contains($splits, split)
),

wanted_events as (
    select e.session, e.pos, e.item_id, e.block
    from session_events as e
    semi join wanted_items as w on e.item_id = w.item_id
),

probes as (
    select w.session, w.pos, w.item_id, w.block + near.b as block
    from wanted_events as w
    cross join (select unnest([-1, 0, 1]) as b) as near
),

pairs as (
    select p.item_id as src, e.item_id as dst, abs(e.pos - p.pos) as d
    from probes as p
    inner join session_events as e on e.session = p.session and e.block = p.block
    where
        e.pos between p.pos - $steps and p.pos + $steps
        and e.pos <> p.pos
        and e.item_id <> p.item_id
        and (e.pos > p.pos or $both)
),

scored as (
    select
        src as query_id,
        dst as item_id,
        round(sum(
            case $weighting
                when 'same' then 1.0
                when 'linear' then 1.0 / d
                when 'log' then 1.0 / log2(d + 1)
                when 'quadratic' then 1.0 / (d * d)
            end
        ), 9) as score
    from pairs
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
