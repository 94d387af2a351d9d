-- Each warehouse event's result of the last extract run (what extract_rows adds to a typed
-- row: its rule tag, session and position), kept so an incremental run re-cleans and
-- re-sessionizes only the users whose rows changed (tasks/extract_affected.py). NULL: none
-- yet (a new row). Added to warehouses created before it.
alter table wh_events add column if not exists result struct(
    type_kept boolean,
    is_duplicate boolean,
    drop_rule varchar,
    seq bigint,
    session_key varchar
)
