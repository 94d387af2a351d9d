-- Item-list candidates: the fused channels' lists (`item_neighbours`: embedding, count
-- channel, popularity, fused in Python by recsys/model/scoring.py, `source` naming the
-- channels that proposed each item), anchored on their own item; scores as doubles, like
-- the fallback's that export/fallback.sql appends for items without a vector (from
-- export/item_cold.sql). `pos` is the fused rank: equal scores keep fusion's order (the
-- smaller vocabulary row first), as `recsys serve` ranks live. `item_neighbours` holds
-- only this shard's items.
create or replace temp table candidates as
with fused as (
    select list_id, item_id, score, rank, source from item_neighbours
),

final as (
    select
        list_id,
        list_id as anchor_id,
        item_id,
        cast(score as double) as score,
        rank as pos,
        source
    from fused
)

select * from final
