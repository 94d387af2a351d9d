-- A warm start's sessions: those of the splits $splits that start at or after $since (NULL:
-- every session of them). A warm start trains only on these, from vectors that have seen
-- the older ones (the refit: the held-out tail after the evaluated model; a nightly run:
-- the sessions newer than the champion's training data).
create or replace temp table warm_events as
with split_events as (
    select session, pos, item_id, ts, split, session_weight
    from events
    where list_contains($splits, split)
),

starts as (
    select session, min(ts) as started
    from split_events
    group by session
),

final as (
    select e.session, e.pos, e.item_id, e.split, e.session_weight
    from split_events as e
    inner join starts as s on e.session = s.session
    where cast($since as timestamp) is null or s.started >= cast($since as timestamp)
)

select * from final
