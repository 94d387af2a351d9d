-- typed_rows from the warehouse export: the same columns as extract_typed, input order
-- = files in path order, rows in file order (what reading all the files at once gives).
create or replace temp table typed_rows as
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
