-- Raw rows of Parquet files (a file, glob, directory or URL) as a view, read when a later
-- statement scans it. input_order numbers the rows as one read of all files in list order
-- gives them: the rows of earlier files (their row counts, from the footers), then the row
-- in its file. No ordered scan and no copy: extract/rows reads and types the files in
-- parallel as it goes.
create or replace temp view source_view as
with counts as (
    select file_index, count(*) as file_rows
    from read_parquet(getvariable('extract_source').files, union_by_name = true)
    group by file_index
),

offsets as (
    select
        file_index,
        sum(file_rows) over (order by file_index) - file_rows as rows_before
    from counts
),

source as (
    select
        *,
        file_index as source_file_index,
        file_row_number as source_file_row
    from read_parquet(getvariable('extract_source').files, union_by_name = true)
),

final as (
    select
        o.rows_before + s.source_file_row + 1 as input_order,
        s.* exclude (source_file_index, source_file_row)
    from source as s
    inner join offsets as o on s.source_file_index = o.file_index
)

select * from final
