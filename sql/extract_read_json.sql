-- Raw rows of a JSON-lines file, glob or URL.
create or replace temp table source_rows as
with source as (
    select * from read_json($path, format = 'newline_delimited', union_by_name = true)
),

final as (
    select row_number() over () as input_order, *
    from source
)

select * from final
