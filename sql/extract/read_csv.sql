-- Raw rows of CSV files (a file, glob, directory or URL) as a view; everything as text so ids
-- keep leading zeros and timestamps of any shape reach one parser (extract/typed.sql).
-- input_order is the order of one read of all files (extract/source_copy keeps it by
-- copying them).
create or replace temp view source_view as
with source as (
    select *
    from read_csv(
        getvariable('extract_source').files,
        delim = getvariable('extract_source').delimiter,
        header = true,
        all_varchar = true,
        union_by_name = true,
        strict_mode = true
    )
),

final as (
    -- a column of the file's own named input_order gives way to the row number
    select row_number() over () as input_order, columns(lambda c: c <> 'input_order')
    from source
)

select * from final
