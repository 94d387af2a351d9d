-- The settings and future bound the stored results were computed with (no row: none yet),
-- and when they were stored: a stage stores its results only if no other run stored since
-- its export (tasks/extract/incremental.py store_results).
select settings, max_ts, updated_at from wh_results_state where id = 1
