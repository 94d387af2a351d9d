-- The warehouse (DATA_DIR/warehouse.duckdb), schema version 1: every table, defined here
-- only (recsys/warehouse.py runs this file on a new or unversioned warehouse; writers
-- insert `by name`). `if not exists`: an unversioned warehouse keeps its run_metrics.

-- The schema version of this file (recsys.warehouse.SCHEMA_VERSION), one row.
create table if not exists wh_schema (
    version integer not null,
    migrated_at timestamptz
);

-- Typed events (extract/typed's columns), one row per input row, keyed by the file it came
-- from and its row number in that file (input order across files). `result`: the row's
-- result of the last extract run (what extract/rows adds to a typed row: its rule tag,
-- session and position), kept so an incremental run re-cleans and re-sessionizes only the
-- users whose rows changed (tasks/extract/incremental.py); NULL: none yet (a new row).
create table if not exists wh_events (
    file_path varchar,
    file_row bigint,
    user_id varchar,
    item_id varchar,
    ts timestamp,
    ts_text varchar,
    event_type varchar,
    session_ref varchar,
    result struct(
        type_kept boolean,
        is_duplicate boolean,
        drop_rule varchar,
        seq bigint,
        session_key varchar
    )
);

-- Files ingested: a file is read again only when its fingerprint changes. `bytes` and
-- `last_row` (its size and last row number when registered) recognise a file that has only
-- grown since (an append-only log), whose new rows alone are read.
create table if not exists wh_files (
    file_path varchar,
    fingerprint varchar,
    rows bigint,
    min_ts timestamp,
    max_ts timestamp,
    ingested_at timestamptz,
    bytes bigint,
    last_row bigint
);

-- The newest event time ingested so far (one row, id 1; none before the first ingest).
create table if not exists wh_watermark (
    id integer primary key,
    max_ts timestamp,
    files bigint,
    rows bigint,
    updated_at timestamptz
);

-- Each item's count of events that passed every rule before the rare-item rule, as of the
-- last extract run (the count that rule compared): the next run finds the items whose
-- verdict it flips against these, including counts of rows deleted since.
create table if not exists wh_item_counts (
    item_id varchar,
    events bigint
);

-- Users whose rows changed (inserted, replaced or deleted) since their stored results were
-- computed; `batch` names the ingest that marked them, so a stage clears only the marks it
-- has seen (a concurrent ingest's marks stay).
create table if not exists wh_dirty (
    user_id varchar,
    batch varchar
);

-- One row: the settings the stored results were computed with (their JSON text) and the
-- future bound of that run; results are reused only under the same settings.
create table if not exists wh_results_state (
    id integer primary key,
    settings varchar,
    max_ts timestamp,
    updated_at timestamptz
);

-- Every evaluated run's metrics, one row per (run, source, metric); refused runs included.
create table if not exists run_metrics (
    run_id varchar,
    evaluated_at timestamptz,
    source varchar,
    metric varchar,
    value double,
    gate_passed boolean
);
