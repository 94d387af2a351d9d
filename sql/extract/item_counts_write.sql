-- This run's per-item counts of events that passed every rule before the rare-item rule
-- (what extract/rows compared with min_item_count), for the warehouse to keep.
copy (
    with typed as (
        select item_id, drop_rule from typed_events
    ),

    final as (
        select item_id, count(*) as events
        from typed
        where drop_rule is null or drop_rule in ('rare_item', 'sparse_user')
        group by item_id
    )

    select * from final
) to $out (format parquet)
