-- The hits only: each case of {{cases}} whose target is in a source's list in {{lists}} (the
-- list of its `query_id`: the last item in the next-item task, the case itself in the
-- session task), at the rank the target has once the items already seen earlier in the
-- case's session are removed from the list ($exclude_seen; the query item is one of them,
-- and a target seen before in its session cannot be shown, so it is a miss). Misses are
-- implicit: metrics divide by the number of cases, so a query without a list is a miss.
-- Computed once; metrics and slices aggregate it. Lists hold an item at most once.
create or replace temp table {{hits}} as
with pairs as (
    select pair_id, session, pos, query_id, target_id from {{cases}}
),

lists as (
    select source, query_id, rank, item_id from {{lists}}
),

found as (
    select l.source, p.pair_id, p.session, p.pos, p.query_id, p.target_id, l.rank
    from pairs as p
    inner join lists as l on l.query_id = p.query_id and l.item_id = p.target_id
),

session_items as (
    select distinct session, pos, item_id
    from events
    where split = 'test' and $exclude_seen
),

seen_above as (
    select f.source, f.pair_id, count(distinct l.item_id) as above
    from found as f
    inner join session_items as s on s.session = f.session and s.pos < f.pos
    inner join lists as l
        on
            l.source = f.source
            and l.query_id = f.query_id
            and l.item_id = s.item_id
            and l.rank < f.rank
    group by all
),

repeated as (
    select distinct p.pair_id
    from pairs as p
    inner join session_items as s
        on s.session = p.session and s.pos < p.pos and s.item_id = p.target_id
),

final as (
    select f.source, f.pair_id, f.rank - coalesce(a.above, 0) as hit_rank
    from found as f
    left join seen_above as a on f.source = a.source and f.pair_id = a.pair_id
    where f.pair_id not in (select pair_id from repeated)
)

select * from final
