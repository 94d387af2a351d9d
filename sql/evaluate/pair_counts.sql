-- Ordered pairs of items at most $steps positions apart in the sessions of the splits
-- $splits, by distance d (1 = adjacent) and direction: `forward` when the pair's second item
-- came after its first. Only pairs whose first item is in `wanted_items` are kept (the
-- items whose lists are needed). Every sequential-rule and co-occurrence list is summed from
-- these counts; the pairs are found with an equality join per distance, O(events x steps).
create or replace temp table pair_counts as
with session_events as (
    select session, pos, item_id
    from events
    where list_contains($splits, split)
),

distances as (
    select unnest(range(1, $steps + 1)) as d
),

pairs as (
    select a.item_id as first_id, b.item_id as second_id, dist.d
    from session_events as a
    cross join distances as dist
    inner join session_events as b
        on b.session = a.session and b.pos = a.pos + dist.d
    where a.item_id <> b.item_id
),

wanted as (
    select item_id from wanted_items
),

forward as (
    select first_id as src, second_id as dst, d, true as forward, count(*) as n
    from pairs
    where first_id in (select item_id from wanted)
    group by all
),

backward as (
    select second_id as src, first_id as dst, d, false as forward, count(*) as n
    from pairs
    where second_id in (select item_id from wanted)
    group by all
),

final as (
    select * from forward
    union all
    select * from backward
)

select * from final
