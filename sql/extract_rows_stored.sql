-- The rows of users who keep their stored results, added to the recomputed users' rows
-- extract_rows stored: typed_events then holds every row, as a full run's does.
insert into typed_events by name
with stored as (
    select * from warehouse_rows
    where has_result and user_id is not null
),

kept as (
    select s.*
    from stored as s
    anti join recompute_users as r on s.user_id = r.user_id
),

final as (
    select
        input_order,
        user_id,
        item_id,
        ts,
        -- as extract_rows keeps it: only for rows dropped as unusable or by event type
        case when drop_rule = 'invalid' or not type_kept then ts_text end as ts_text,
        event_type,
        session_ref,
        type_kept,
        is_duplicate,
        drop_rule,
        seq,
        session_key
    from kept
)

select * from final
