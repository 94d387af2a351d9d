-- The rows of users who keep their stored results, added to the recomputed users' rows
-- extract/rows stored: typed_events then holds every row, as a full run's does.
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
        * exclude (result, has_result)
        -- as extract/rows keeps it: only for rows dropped as unusable or by event type
        replace (
            case when result.drop_rule = 'invalid' or not result.type_kept then ts_text end
                as ts_text
        ),
        unnest(result)
    from kept
)

select * from final
