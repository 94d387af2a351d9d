-- The warehouse's typed events (extract_typed's columns), one row per input row, keyed by
-- the file it came from and its row number in that file (input order across files).
create table if not exists wh_events (
    file_path varchar,
    file_row bigint,
    user_id varchar,
    item_id varchar,
    ts timestamp,
    ts_text varchar,
    event_type varchar,
    session_ref varchar
)
