-- The warehouse export as typed rows (extract/typed's columns) with the stored result of the
-- last run (`result`, NULL for a row without one; tasks/extract/incremental.py);
-- extract/typed_stored and extract/typed_affected make them (all, or the recomputed
-- users') the rows extract/rows reads. A view over the Parquet file: each statement reads
-- only the columns it uses, and nothing is copied.
create or replace temp view warehouse_rows as
with stored as (
    select * from read_parquet(getvariable('warehouse_export'))
),

final as (
    select
        * exclude (row_id, file_path, file_row),
        result is not null as has_result
    from stored
)

select * from final
