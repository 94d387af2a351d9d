-- item_recs.parquet (contract schema): each item's top-K neighbours that passed every rule.
copy (
    with kept as (
        select * from flagged where removed_by is null
    ),

    final as (
        select
            list_id as item_id,
            cast(row_number() over (partition by list_id order by score desc, item_id) as integer)
                as rank,
            item_id as neighbor_id,
            cast(score as double) as score,
            source
        from kept
        qualify rank <= $k
    )

    select * from final order by item_id, rank
) to $path (format parquet, compression zstd)
