-- Every $batch-th user (sorted) that the model can place (has seen a known item): where a
-- FAISS user batch starts, so export shards are cut there; plus the largest seen-item
-- count of any user, the depth the popularity fallback needs.
with placed as (
    select distinct u.user_id
    from user_items as u
    semi join vocab as v on u.item_id = v.item_id
),

positions as (
    select user_id, row_number() over (order by user_id) - 1 as pos from placed
),

max_seen as (
    select coalesce(max(seen), 0) as max_seen
    from (select count(*) as seen from user_items group by user_id)
),

final as (
    select p.user_id, m.max_seen
    from positions as p
    cross join max_seen as m
    where p.pos % $batch = 0
)

select * from final order by user_id
