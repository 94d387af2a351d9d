-- Beyond accuracy, per source at cut-off $k: catalogue coverage (share of trained items
-- that appear in at least one served list) and popularity bias (mean popularity percentile
-- of the recommended items, 1 = the most trained item, weighted by how often each query
-- occurs in the test pairs, i.e. what the test users would have been shown).
with percentiles as (
    select item_id, 1 - percent_rank() over (order by train_count desc) as pop_pct
    from items
),

catalogue as (
    select count(*) as n from items
),

query_weights as (
    select query_id, count(*) as w from test_pairs group by query_id
),

shown as (
    select c.source, c.query_id, c.item_id
    from candidates as c
    where c.rank <= $k
),

coverage as (
    select s.source, count(distinct s.item_id) / any_value(cat.n) as coverage
    from shown as s
    cross join catalogue as cat
    inner join items as i on s.item_id = i.item_id
    group by s.source
),

bias as (
    select s.source, sum(q.w * coalesce(p.pop_pct, 0)) / sum(q.w) as popularity_bias
    from shown as s
    inner join query_weights as q on s.query_id = q.query_id
    left join percentiles as p on s.item_id = p.item_id
    group by s.source
),

final as (
    select b.source, coalesce(c.coverage, 0) as coverage, b.popularity_bias
    from bias as b
    left join coverage as c on b.source = c.source
)

select * from final order by source
