-- Insert the rows written by extract_ingest_write (no stored result yet).
insert into wh_events (
    file_path, file_row, user_id, item_id, ts, ts_text, event_type, session_ref
)
select file_path, file_row, user_id, item_id, ts, ts_text, event_type, session_ref
from read_parquet($files)
