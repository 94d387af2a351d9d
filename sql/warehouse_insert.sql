-- Append this run's rows (registered as `new_metrics`); warehouse_delete ran first.
insert into run_metrics
select run_id, evaluated_at, source, metric, value, gate_passed from new_metrics
