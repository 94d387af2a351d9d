-- Drop earlier rows of the run before re-inserting them (idempotent retries).
delete from run_metrics where run_id = $run_id
