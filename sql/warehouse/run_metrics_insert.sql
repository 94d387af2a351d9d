-- Append this run's rows (registered as `new_metrics`); run_metrics_delete ran first.
insert into run_metrics by name
select * from new_metrics
