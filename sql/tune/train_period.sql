-- The training period of a run's stage (everything before the test cut), as Parquet: the
-- raw material of the tuning validation split, so trials never see a test event.
copy (
    with cut as (
        select min(ts) as cut_ts from events where split = 'test'
    ),

    final as (
        select s.*
        from sessionized_events as s
        cross join cut as c
        where s.ts < c.cut_ts
    )

    select * from final
) to $path (format parquet)
