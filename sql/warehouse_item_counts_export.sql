-- What the stored results say about the last computed state: each item's count of events
-- that passed the rules before the rare-item rule (the count that rule compares), including
-- rows since deleted from wh_events, whose users are marked in wh_dirty.
copy (
    with results as (
        select * from wh_results
    ),

    final as (
        select
            item_id,
            count(*) as events
        from results
        where drop_rule is null or drop_rule in ('rare_item', 'sparse_user')
        group by item_id
    )

    select * from final
) to $out (format parquet)
