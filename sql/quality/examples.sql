-- The first input rows that break one raw-events rule, as examples for the report (row is
-- the data row's position in the input). Only run for rules that failed or warned.
with typed as (
    select * from typed_events
),

duplicates as (
    select input_order from valid_events where is_duplicate
),

final as (
    select
        input_order as input_row,
        user_id,
        item_id,
        -- the raw text where the extract dropped the row as unusable or by event type
        -- (null_ids and the timestamp rules); other rows show their parsed UTC time
        coalesce(ts_text, cast(ts as varchar)) as timestamp,
        event_type
    from typed
    where
        case $rule
            when 'null_ids' then user_id is null or item_id is null
            when 'timestamp_parse' then ts is null
            when 'no_future' then ts > $max_ts
            when 'no_ancient' then ts < $min_ts
            when 'event_types'
                then event_type is not null
                and $allowed_event_types is not null
                and not list_contains($allowed_event_types, event_type)
            when 'duplicates' then input_order in (select input_order from duplicates)
            when 'long_ids'
                then length(user_id) > $max_id_chars or length(item_id) > $max_id_chars
            else false
        end
    order by input_order
    limit $limit
)

select * from final
