-- HR@K, MRR@K and NDCG@K of every candidate source over every test pair (a pair whose
-- target is not in the source's list, or whose query has none, is a miss), for each K in $ks.
with sources as (
    select distinct source from candidates
),

n_pairs as (
    select count(*) as pairs from test_pairs
),

cutoffs as (
    select unnest($ks) as k
),

grid as (
    select s.source, c.k
    from sources as s
    cross join cutoffs as c
),

summed as (
    select
        g.source,
        g.k,
        count(h.hit_rank) as hits,
        coalesce(sum(1.0 / h.hit_rank), 0) as rr,
        coalesce(sum(1.0 / log2(h.hit_rank + 1)), 0) as dcg
    from grid as g
    left join hits as h on h.source = g.source and h.hit_rank <= g.k
    group by g.source, g.k
),

final as (
    select
        s.source,
        s.k,
        n.pairs,
        s.hits / n.pairs as hr,
        s.rr / n.pairs as mrr,
        s.dcg / n.pairs as ndcg
    from summed as s
    cross join n_pairs as n
)

select * from final order by source, k
