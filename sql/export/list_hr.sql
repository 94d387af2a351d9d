-- HR@K of the exported item lists as next-item predictions on the held-out pairs (measures
-- the fusion channel and the filters' cost on the same split evaluate uses).
with pairs as (
    select * from test_pairs
),

recs as (
    select item_id, neighbor_id, rank from read_parquet($path)
),

hits as (
    select p.pair_id, min(r.rank) as hit_rank
    from pairs as p
    left join recs as r on r.item_id = p.query_id and r.neighbor_id = p.target_id
    group by p.pair_id
),

final as (
    select avg(case when hit_rank <= $k then 1.0 else 0.0 end) as hr, count(*) as pairs
    from hits
)

select * from final
