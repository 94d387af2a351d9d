-- Raw rows of a CSV file, glob or URL; everything as text so ids keep leading zeros and
-- timestamps of any shape reach one parser (extract_typed.sql).
create or replace temp table source_rows as
with source as (
    select *
    from read_csv(
        $path,
        delim = $delimiter,
        header = true,
        all_varchar = true,
        union_by_name = true,
        strict_mode = true
    )
),

final as (
    select row_number() over () as input_order, *
    from source
)

select * from final
