-- Mark the users of every row this ingest is about to delete (rows of files read whole
-- again, the re-read tail of an appended file, rows in a backfill range) or insert; run
-- before the deletes.
insert into wh_dirty by name
with leaving as (
    select user_id
    from wh_events
    where
        list_contains($paths, file_path)
        or ($from_ts is not null and ts >= $from_ts and ts < $to_ts)
        or coalesce(
            file_row >= list_extract(
                $tail_rows::bigint[], list_position($tail_paths::varchar[], file_path)
            ),
            false
        )
),

arriving as (
    select user_id from read_parquet($files)
),

final as (
    select distinct
        user_id,
        $batch as batch
    from (
        select user_id from leaving
        union all
        select user_id from arriving
    )
    where user_id is not null
)

select * from final
