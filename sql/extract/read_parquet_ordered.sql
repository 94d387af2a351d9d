-- Raw rows of Parquet files whose own columns are named file_index or file_row_number (they
-- hide DuckDB's virtual columns of those names, which extract/read_parquet numbers rows
-- with): numbered in read order instead, for extract/source_copy to copy.
create or replace temp view source_view as
with source as (
    select * from read_parquet(getvariable('extract_source').files, union_by_name = true)
),

final as (
    -- a column of the file's own named input_order gives way to the row number
    select row_number() over () as input_order, columns(lambda c: c <> 'input_order')
    from source
)

select * from final
