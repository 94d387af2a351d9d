-- Raw rows of JSON files (a file, glob, directory or URL) as a view: JSON lines, one array
-- of objects (what pandas' to_json(orient='records') writes) or objects one after another;
-- input_order is the order of one read of all files (extract/source_copy keeps it by
-- copying them). newline_delimited read an array file as one row, silently.
create or replace temp view source_view as
with source as (
    select *
    from read_json(
        getvariable('extract_source').files, format = 'auto', union_by_name = true
    )
),

final as (
    -- a column of the file's own named input_order gives way to the row number
    select row_number() over () as input_order, columns(lambda c: c <> 'input_order')
    from source
)

select * from final
