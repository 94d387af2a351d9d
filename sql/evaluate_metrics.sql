-- HR@K, MRR@K and NDCG@K of every candidate source over every test pair (a pair whose query
-- has no candidates is a miss), for each K in $ks.
with scored as (
    select * from hits
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
    from scored as h
    cross join cutoffs as c
    group by h.source, c.k
)

select * from final order by source, k
