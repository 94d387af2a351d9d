-- Register files with their current fingerprints and sizes and what the warehouse holds
-- from them.
insert into wh_files by name
with registered as (
    select
        unnest($paths) as file_path,
        unnest($fingerprints) as fingerprint,
        unnest($sizes::bigint[]) as bytes
),

held as (
    select
        file_path,
        count(*) as rows,
        min(ts) as min_ts,
        max(ts) as max_ts,
        max(file_row) as last_row
    from wh_events
    where list_contains($paths, file_path)
    group by file_path
),

final as (
    select
        r.file_path,
        r.fingerprint,
        coalesce(h.rows, 0) as rows,
        h.min_ts,
        h.max_ts,
        now() as ingested_at,
        r.bytes,
        h.last_row
    from registered as r
    left join held as h on r.file_path = h.file_path
)

select * from final
