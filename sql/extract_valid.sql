-- Rows with ids and a sane timestamp, each tagged with the first cleaning rule that drops it
-- (drop_rule NULL = kept), so every rule's count can be reported. Rules, in order:
-- event_type filter; near duplicates (same user, item and type as that key's previous event
-- within $dedup_seconds; 0 = exact duplicates); bot users (too many events overall or in one
-- calendar minute); rare items (< $min_item_count events); sparse users (< $min_user_events).
-- Support rules are applied once, in this order, not iterated to a fixed point. Kept as a
-- table: the quality stage profiles duplicates and item shares from it.
create or replace table valid_events as
with typed as (
    -- ts_text stays in typed_events only (the quality stage reads it there): a column of
    -- unique strings is the most expensive one to write.
    select * exclude (ts_text) from typed_events
),

usable as (
    select *
    from typed
    where
        user_id is not null
        and item_id is not null
        and ts is not null
        and ts >= $min_ts
        and ts <= $max_ts
),

flagged as (
    select
        *,
        ($event_types is null or list_contains($event_types, event_type)) as type_kept,
        coalesce(
            epoch(ts) - epoch(
                lag(ts) over (
                    partition by user_id, item_id, event_type order by ts, input_order
                )
            ) <= $dedup_seconds,
            false
        ) as is_duplicate
    from usable
),

kept as (
    select user_id, item_id, ts
    from flagged
    where type_kept and not is_duplicate
),

per_minute as (
    select user_id, count(*) as events
    from kept
    group by user_id, date_trunc('minute', ts)
),

bot_users as (
    select user_id
    from per_minute
    group by user_id
    having
        sum(events) > coalesce($max_user_events, 9223372036854775807)
        or max(events) > coalesce($max_events_per_minute, 9223372036854775807)
),

human as (
    select k.item_id, k.user_id
    from kept as k
    anti join bot_users as b on k.user_id = b.user_id
),

rare_items as (
    select item_id
    from human
    group by item_id
    having count(*) < $min_item_count
),

sparse_users as (
    select h.user_id
    from human as h
    anti join rare_items as r on h.item_id = r.item_id
    group by h.user_id
    having count(*) < $min_user_events
),

final as (
    select
        f.*,
        case
            when not f.type_kept then 'event_type'
            when f.is_duplicate then 'duplicate'
            when b.user_id is not null then 'bot_user'
            when r.item_id is not null then 'rare_item'
            when s.user_id is not null then 'sparse_user'
        end as drop_rule
    from flagged as f
    left join bot_users as b on f.user_id = b.user_id
    left join rare_items as r on f.item_id = r.item_id
    left join sparse_users as s on f.user_id = s.user_id
)

select * from final
