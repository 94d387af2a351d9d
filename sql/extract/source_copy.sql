-- source_rows as a copy of the input (typed_rows reads it): the rows are read here, so a
-- bad file fails here, and row_number() over () keeps the read order.
create or replace temp table source_rows as
with source as (
    select * from source_view
),

final as (
    select * from source
)

select * from final
