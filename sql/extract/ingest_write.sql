-- One input file's typed rows (all of them, those in [$from_ts, $to_ts) for a backfill, or
-- those from row $from_row on for an appended file) as a Parquet file the warehouse
-- connection inserts from.
copy (
    with typed as (
        select * from typed_rows($timestamp_unit, $timestamp_format)
    ),

    final as (
        select
            $file_path as file_path,
            input_order as file_row,
            * exclude (input_order)
        from typed
        where
            ($from_ts is null or (ts >= $from_ts and ts < $to_ts))
            and ($from_row is null or input_order >= $from_row)
    )

    select * from final
) to $out (format parquet)
