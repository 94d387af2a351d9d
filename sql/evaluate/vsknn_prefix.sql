-- Each session case's last $items items, coded (`vsknn_codes`), with V-SKNN's position
-- weight: the item i steps back weighs 1 - i/$items (an item seen twice keeps its larger).
with recent as (
    select pair_id, item_id, recency from session_prefix where recency < $items
),

weighted as (
    select pair_id, item_id, max(1.0 - recency / $items) as w
    from recent
    group by all
),

final as (
    select w.pair_id, c.code, w.w
    from weighted as w
    inner join vsknn_codes as c on w.item_id = c.item_id
)

select * from final
