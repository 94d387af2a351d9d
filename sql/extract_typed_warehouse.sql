-- The warehouse export as typed rows (extract_typed's columns), input order = files in path
-- order, rows in file order (what reading all the files at once gives); extract_typed_stored
-- makes them the rows extract_rows reads.
create or replace temp table warehouse_rows as
with stored as (
    select * from read_parquet($path)
),

final as (
    select
        row_number() over (order by file_path, file_row) as input_order,
        user_id,
        item_id,
        ts,
        ts_text,
        event_type,
        session_ref
    from stored
)

select * from final
