-- The popularity fallback's ranking (the served model's training count, ties by item id),
-- overall and within each category; built once per export shard and read by both the item
-- and the user lists. The counts are the served model's (vocab.parquet: after a refit,
-- every split's), the order `recsys serve` falls back to and the fused lists' fill.
create or replace temp table popular_items as
with counted as (
    select item_id, "count" as train_count from vocab
),

attributes as (
    select item_id, category from item_attributes
),

final as (
    select
        c.item_id,
        cast(c.train_count as double) as score,
        a.category,
        row_number() over (
            partition by a.category order by c.train_count desc, c.item_id
        ) as category_rank,
        row_number() over (order by c.train_count desc, c.item_id) as global_rank
    from counted as c
    left join attributes as a on c.item_id = a.item_id
)

select * from final
