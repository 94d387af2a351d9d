-- One row: the settings the stored results were computed with (their JSON text) and the
-- future bound of that run; results are reused only under the same settings.
create table if not exists wh_results_state (
    id integer primary key,
    settings varchar,
    max_ts timestamp,
    updated_at timestamptz
)
