-- Raw rows of JSON-lines files (a file, glob, directory or URL) as a view; input_order is
-- the order of one read of all files (extract/source_copy keeps it by copying them).
create or replace temp view source_view as
with source as (
    select *
    from read_json(
        getvariable('extract_source').files, format = 'newline_delimited', union_by_name = true
    )
),

final as (
    -- a column of the file's own named input_order gives way to the row number
    select row_number() over () as input_order, columns(lambda c: c <> 'input_order')
    from source
)

select * from final
