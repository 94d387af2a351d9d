-- HR@K, MRR@K and NDCG@K of every candidate source over every test pair (a pair whose query
-- has no candidates is a miss), for each K in $ks.
with pairs as (
    select * from test_pairs
),

sources as (
    select distinct source from candidates
),

hits as (
    select s.source, p.pair_id, min(c.rank) as hit_rank
    from pairs as p
    cross join sources as s
    left join candidates as c
        on c.source = s.source and c.query_id = p.query_id and c.item_id = p.target_id
    group by s.source, p.pair_id
),

cutoffs as (
    select unnest($ks) as k
),

final as (
    select
        h.source,
        c.k,
        count(*) as pairs,
        avg(case when h.hit_rank <= c.k then 1.0 else 0.0 end) as hr,
        avg(case when h.hit_rank <= c.k then 1.0 / h.hit_rank else 0.0 end) as mrr,
        avg(case when h.hit_rank <= c.k then 1.0 / log2(h.hit_rank + 1) else 0.0 end) as ndcg
    from hits as h
    cross join cutoffs as c
    group by h.source, c.k
)

select * from final order by source, k
