-- Ordered pairs of items at most $steps positions apart in the sessions of the splits
-- $splits, by distance d (1 = adjacent) and direction: `forward` when the pair's second item
-- came after its first. Only pairs whose first item is in `wanted_items` are kept (the
-- items whose lists are needed). Every sequential-rule and co-occurrence list is summed from
-- these counts. Each event of a wanted item is joined with the events of its own session in
-- its block of $steps positions and the two blocks beside it (one equality join; at most
-- 3 x $steps partners per event, however long the session), then cut to distance $steps:
-- O(wanted events x steps), where a join per distance scanned every event $steps times.
create or replace temp table pair_counts as
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
    select
        p.item_id as src,
        e.item_id as dst,
        abs(e.pos - p.pos) as d,
        e.pos > p.pos as forward
    from probes as p
    inner join session_events as e on e.session = p.session and e.block = p.block
    where
        e.pos between p.pos - $steps and p.pos + $steps
        and e.pos <> p.pos
        and e.item_id <> p.item_id
),

final as (
    select src, dst, d, forward, count(*) as n
    from pairs
    group by all
)

select * from final
