-- This run's event counts of the given items (the previous run's top items), so drift can
-- see how far an item fell even when it left the top-k.
with counts as (
    select item_id, count(*) as n
    from events
    where list_contains($item_ids, item_id)
    group by item_id
),

final as (
    select item_id, n from counts
)

select * from final
