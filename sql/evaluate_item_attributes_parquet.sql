-- Item titles and categories for the diagnostics, from a Parquet file.
with source as (
    select * from read_parquet($path)
),

final as (
    select
        cast({{id}} as varchar) as item_id,
        cast({{title}} as varchar) as title,
        cast({{category}} as varchar) as category
    from source
)

select * from final
