-- Rows with ids and a sane timestamp, flagged (not yet dropped) by the event-type filter and
-- as exact duplicates (same user, item, time and type after the first), so every rule's
-- count can be reported.
create or replace table valid_events as
with typed as (
    select * from typed_events
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

final as (
    select
        *,
        ($event_types is null or list_contains($event_types, event_type)) as type_kept,
        row_number() over (
            partition by user_id, item_id, ts, event_type order by input_order
        ) > 1 as is_duplicate
    from usable
)

select * from final
