-- Id columns ($ids) stored as integers in some Parquet files of the input and as floats in
-- others: read together (union_by_name) DuckDB widens the column to DOUBLE, and every id
-- of the integer files would be renamed ('7' -> '7.0'). One row per such column, with an
-- example file of each kind, for tasks/extract/read.py to refuse the input by name.
with schema as (
    select file_name, name, type
    from parquet_schema(getvariable('extract_source').files)
    where name in (select unnest($ids::varchar []))
),

kinds as (
    select
        name,
        min(file_name) filter (where type in ('INT32', 'INT64')) as integer_file,
        min(file_name) filter (where type in ('FLOAT', 'DOUBLE')) as float_file
    from schema
    group by name
),

final as (
    select name, integer_file, float_file
    from kinds
    where integer_file is not null and float_file is not null
    order by name
)

select * from final
