-- Item-list candidates: the embedding channel (ANN neighbours), optionally fused with a
-- co-occurrence channel by weighted reciprocal rank (scores as doubles, like the fallback's
-- export/fallback.sql appends for items without a vector, from export/item_cold.sql). A
-- shard builds the lists of the items in [$lo, $hi) (NULL = unbounded); `item_neighbours`
-- already holds only its items.
create or replace temp table candidates as
with embedding as (
    select list_id, item_id, score, rank from item_neighbours
),

train_events as (
    select session, pos, item_id from events where split = 'train'
),

transitions as (
    select prev.item_id as list_id, nxt.item_id, count(*) as n
    from train_events as prev
    inner join train_events as nxt
        on prev.session = nxt.session and nxt.pos = prev.pos + 1
    where
        $cooc_weight > 0
        and prev.item_id <> nxt.item_id
        and (cast($lo as varchar) is null or prev.item_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or prev.item_id < cast($hi as varchar))
    group by all
),

cooccurrence as (
    select
        t.list_id,
        t.item_id,
        row_number() over (partition by t.list_id order by t.n desc, t.item_id) as rank
    from transitions as t
    where t.list_id in (select item_id from vocab)
    qualify rank <= $depth
),

fused as (
    select
        coalesce(e.list_id, c.list_id) as list_id,
        coalesce(e.item_id, c.item_id) as item_id,
        case
            when $cooc_weight > 0
                then coalesce(1.0 / (60 + e.rank), 0) + $cooc_weight * coalesce(1.0 / (60 + c.rank), 0)
            else e.score
        end as score,
        case
            when e.item_id is not null and c.item_id is not null then 'fusion'
            when e.item_id is not null then $source
            else 'cooccurrence'
        end as source
    from embedding as e
    full outer join cooccurrence as c on e.list_id = c.list_id and e.item_id = c.item_id
),

final as (
    select list_id, list_id as anchor_id, item_id, cast(score as double) as score, source
    from fused
)

select * from final
