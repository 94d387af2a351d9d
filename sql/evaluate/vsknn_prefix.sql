-- Each session case's query for session-kNN: its last $items items, the item i steps back
-- weighing 1 - i/$items (V-SKNN's linear position decay; a repeated item counts once, at
-- its most recent position).
with recent as (
    select pair_id, item_id, recency from session_prefix where recency < $items
),

final as (
    select pair_id, item_id, max(1.0 - recency / $items) as w
    from recent
    group by all
)

select * from final
