-- Rank of the target in each source's list for every test pair (NULL = not in the list,
-- also when the query has no list at all). Computed once; metrics and slices read it.
create or replace temp table hits as
with pairs as (
    select pair_id, query_id, target_id from test_pairs
),

sources as (
    select distinct source from candidates
),

final as (
    select s.source, p.pair_id, min(c.rank) as hit_rank
    from pairs as p
    cross join sources as s
    left join candidates as c
        on c.source = s.source and c.query_id = p.query_id and c.item_id = p.target_id
    group by s.source, p.pair_id
)

select * from final
