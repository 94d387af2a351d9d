-- item_recs.parquet or user_recs.parquet (contract schema): each list's top-K candidates
-- that passed every rule. The slots name the list and item columns ({{list_id}}: item_id
-- or user_id; {{item_id}}: neighbor_id or item_id, tasks/export/lists.py).
copy (
    with kept as (
        select * from flagged where removed_by is null
    ),

    final as (
        select
            list_id as {{list_id}},
            cast(row_number() over (partition by list_id order by score desc, pos, item_id) as integer)
                as rank,
            item_id as {{item_id}},
            cast(score as double) as score,
            source
        from kept
        qualify rank <= $k
    )

    select * from final order by {{list_id}}, rank
) to $path (format parquet, compression zstd)
