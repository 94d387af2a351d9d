-- Beyond accuracy from the shards' `shown` files ($shown, a glob): per source and popularity
-- percentile of the recommended items (1 = the most trained item, NULL = untrained), the
-- number of distinct items and their summed weight. Coverage = trained items shown /
-- catalogue; popularity bias = weighted mean percentile (Python sums these in a fixed order).
with percentiles as (
    select item_id, 1 - percent_rank() over (order by train_count desc) as pop_pct
    from items
),

shown as (
    select source, item_id, sum(weight) as weight
    from read_parquet($shown)
    group by all
),

final as (
    select
        s.source,
        p.pop_pct,
        sum(s.weight) as weight,
        count(p.item_id) as items,
        any_value((select count(*) from items)) as catalogue
    from shown as s
    left join percentiles as p on s.item_id = p.item_id
    group by all
)

select * from final order by source, pop_pct nulls first
