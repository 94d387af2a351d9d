-- The extract stage's per-row results for the warehouse events (what extract_rows adds to a
-- typed row), kept so an incremental run re-cleans and re-sessionizes only the users whose
-- rows changed (tasks/extract_affected.py). user_id and item_id are kept with the results so
-- the users and the rare-item counts of rows since deleted from wh_events are still known.
create table if not exists wh_results (
    file_path varchar,
    file_row bigint,
    user_id varchar,
    item_id varchar,
    type_kept boolean,
    is_duplicate boolean,
    drop_rule varchar,
    seq bigint,
    session_key varchar
)
