-- Item titles and categories for the diagnostics.
with source as (
    select * from attributes_source
),

final as (
    select
        cast({{id}} as varchar) as item_id,
        cast({{title}} as varchar) as title,
        cast({{category}} as varchar) as category
    from source
)

select * from final
