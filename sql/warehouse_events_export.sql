-- Every warehouse event, for the stage to rebuild its tables from.
copy (
    with events as (
        select * from wh_events
    ),

    final as (
        select * from events
    )

    select * from final
) to $out (format parquet)
