-- One row of aggregates over all typed input rows: the raw-events checkpoint validates these
-- (exact counts at any scale, instead of GX scanning every row).
with typed as (
    select * from typed_events
),

valid as (
    select * from valid_events
),

flags as (
    select
        *,
        event_type is not null
        and $allowed_event_types is not null
        and not list_contains($allowed_event_types, event_type) as unknown_type
    from typed
),

duplicates as (
    select
        count(*) as valid_rows,
        count(*) filter (where is_duplicate) as duplicate_rows
    from valid
),

popular as (
    select coalesce(max(n) / nullif(sum(n), 0), 0) as top_item_share
    from (
        select count(*) as n
        from valid
        where type_kept and not is_duplicate
        group by item_id
    )
),

final as (
    select
        count(*) as rows,
        count(*) filter (where user_id is null) as null_user_ids,
        count(*) filter (where item_id is null) as null_item_ids,
        -- typed_events keeps the raw time text of dropped rows only (every row without a
        -- time is dropped), so a missing time is "no time and no text".
        count(*) filter (where ts is null and ts_text is null) as null_timestamps,
        count(*) filter (where ts is null and ts_text is not null) as unparseable_timestamps,
        count(*) filter (where ts > $max_ts) as future_timestamps,
        count(*) filter (where ts < $min_ts) as ancient_timestamps,
        count(*) filter (where unknown_type) as unknown_event_types,
        count(*) filter (
            where length(user_id) > $max_id_chars or length(item_id) > $max_id_chars
        ) as long_ids,
        coalesce(
            (count(*) filter (where user_id is null or item_id is null)) / nullif(count(*), 0),
            0
        ) as null_id_fraction,
        coalesce(
            (count(*) filter (where ts is null)) / nullif(count(*), 0), 0
        ) as bad_timestamp_fraction,
        any_value(d.duplicate_rows) as duplicate_rows,
        coalesce(
            any_value(d.duplicate_rows) / nullif(any_value(d.valid_rows), 0), 0
        ) as duplicate_fraction,
        any_value(p.top_item_share) as top_item_share,
        cast(min(ts) as varchar) as min_timestamp,
        cast(max(ts) as varchar) as max_timestamp
    from flags
    cross join duplicates as d
    cross join popular as p
)

select * from final
