-- Optional item attributes for the business rules: item_id plus the configured category and
-- price columns, one row per item.
create or replace temp table item_attributes as
with source as (
    select * from attributes_source
),

final as (
    select
        cast(item_id as varchar) as item_id,
        cast({{category}} as varchar) as category,
        try_cast({{price}} as double) as price
    from source
    qualify row_number() over (partition by item_id) = 1
)

select * from final
