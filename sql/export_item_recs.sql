-- item_recs.parquet (contract schema): every model item's top-K neighbours, never itself.
copy (
    with neighbours as (
        select * from item_neighbours
    ),

    final as (
        select
            item_id,
            cast(rank as integer) as rank,
            neighbor_id,
            cast(score as double) as score,
            source
        from neighbours
        where neighbor_id <> item_id
    )

    select * from final order by item_id, rank
) to $path (format parquet, compression zstd)
