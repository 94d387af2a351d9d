-- No attributes file: an empty attributes table so the filter SQL stays one shape.
create or replace temp table item_attributes as
with final as (
    select
        cast(null as varchar) as item_id,
        cast(null as varchar) as category,
        cast(null as double) as price
    where false
)

select * from final
