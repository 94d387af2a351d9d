-- Raw rows of a Parquet file, glob or URL.
create or replace temp table source_rows as
with source as (
    select * from read_parquet($path, union_by_name = true)
),

final as (
    select row_number() over () as input_order, *
    from source
)

select * from final
