-- source_rows as the input files themselves (typed_rows reads them): nothing is read until
-- extract/rows scans them, so there is no copy of the input in memory while it sorts.
create or replace temp view source_rows as
with source as (
    select * from source_view
),

final as (
    select * from source
)

select * from final
