-- The rules' attributes (export/attributes.sql: item_id, category, price), published with
-- the run so that `recsys serve` applies the same rules at request time; sorted by item_id
-- (the server looks ids up by binary search).
copy (
    with attributes as (
        select item_id, category, price from item_attributes
    ),

    final as (
        select * from attributes where item_id is not null
    )

    select * from final order by item_id
) to $path (format parquet, compression zstd)
