-- Every evaluated run's metrics, one row per (run, source, metric); refused runs included.
create table if not exists run_metrics (
    run_id varchar,
    evaluated_at timestamptz,
    source varchar,
    metric varchar,
    value double,
    gate_passed boolean
)
