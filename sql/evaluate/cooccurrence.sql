-- Last-item co-occurrence baseline: items that most often directly followed the query in
-- training sessions, then popular items to fill the list.
insert into candidates
with train_events as (
    select session, pos, item_id from events where split = 'train'
),

queries as (
    select distinct query_id from test_pairs
),

-- Only transitions out of this (shard's) query items are counted.
transitions as (
    select prev.item_id as query_id, nxt.item_id, count(*) as n
    from train_events as prev
    inner join queries as q on prev.item_id = q.query_id
    inner join train_events as nxt
        on prev.session = nxt.session and nxt.pos = prev.pos + 1
    where prev.item_id <> nxt.item_id
    group by all
),

followers as (
    select t.query_id, t.item_id, 0 as tier, t.n as weight
    from transitions as t
    inner join queries as q on t.query_id = q.query_id
),

fill as (
    select query_id, item_id, 1 as tier, rank as weight
    from candidates
    where source = 'popularity'
),

merged as (
    select * from followers
    union all
    select * from fill
),

ranked as (
    select
        query_id,
        item_id,
        row_number() over (
            partition by query_id
            order by tier, case when tier = 0 then -weight else weight end, item_id
        ) as rank
    from merged
    qualify row_number() over (partition by query_id, item_id order by tier) = 1
),

final as (
    select 'cooccurrence' as source, query_id, rank, item_id
    from ranked
    where rank <= $k
)

select * from final
