-- The count channel's lists, published beside the model (layout.COUNT_LISTS): `recsys serve`
-- and the export's shards read them.
copy (
    with lists as (
        select query_id, rank, item_id, score from candidates where source = $source
    ),

    final as (
        select query_id as item_id, rank, item_id as neighbor_id, score
        from lists
        order by query_id, rank
    )

    select * from final
) to $path (format parquet, compression zstd)
