-- One row of aggregates over all typed input rows: the raw-events checkpoint validates these
-- (exact counts at any scale, instead of GX scanning every row).
with typed as (
    select * from typed_events
),

final as (
    select
        count(*) as rows,
        count(*) filter (where user_id is null) as null_user_ids,
        count(*) filter (where item_id is null) as null_item_ids,
        count(*) filter (where ts_text is null) as null_timestamps,
        count(*) filter (where ts is null and ts_text is not null) as unparseable_timestamps,
        count(*) filter (where ts > $max_ts) as future_timestamps,
        count(*) filter (where ts < $min_ts) as ancient_timestamps,
        coalesce(
            (count(*) filter (where user_id is null or item_id is null)) / nullif(count(*), 0),
            0
        ) as null_id_fraction,
        coalesce(
            (count(*) filter (where ts is null)) / nullif(count(*), 0), 0
        ) as bad_timestamp_fraction,
        cast(min(ts) as varchar) as min_timestamp,
        cast(max(ts) as varchar) as max_timestamp
    from typed
)

select * from final
