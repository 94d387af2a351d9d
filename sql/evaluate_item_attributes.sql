-- Item titles and categories for the diagnostics, from a CSV/TSV file (delimiter sniffed).
with source as (
    select * from read_csv($path, header = true, all_varchar = true)
),

final as (
    select
        cast({{id}} as varchar) as item_id,
        cast({{title}} as varchar) as title,
        cast({{category}} as varchar) as category
    from source
)

select * from final
