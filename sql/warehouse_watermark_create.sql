-- The newest event time ingested so far (one row; NULL before the first ingest).
create table if not exists wh_watermark (
    max_ts timestamp,
    files bigint,
    rows bigint,
    updated_at timestamptz
)
