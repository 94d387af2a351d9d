-- Files ingested into the warehouse: a file is read again only when its fingerprint changes.
create table if not exists wh_files (
    file_path varchar,
    fingerprint varchar,
    rows bigint,
    min_ts timestamp,
    max_ts timestamp,
    ingested_at timestamptz
)
