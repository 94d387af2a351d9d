-- The item counts of the last extract run (wh_item_counts), for the stage.
copy (
    with counts as (
        select * from wh_item_counts
    ),

    final as (
        select item_id, events from counts
    )

    select * from final
) to $out (format parquet)
