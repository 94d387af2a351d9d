-- typed_rows for an incremental run that recomputes every row: the warehouse rows are typed
-- already (the arguments only keep the call the same as extract/typed's macro).
create or replace temp macro typed_rows(timestamp_unit, timestamp_format) as table
with stored as (
    select * from warehouse_rows
),

final as (
    select * exclude (result, has_result)
    from stored
)

select * from final
