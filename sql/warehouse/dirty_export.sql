-- The marked users with their marks, for the stage to recompute and then clear.
copy (
    with marks as (
        select * from wh_dirty
    ),

    final as (
        select distinct user_id, batch from marks
    )

    select * from final
) to $out (format parquet)
