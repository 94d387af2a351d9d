-- The settings and future bound the stored results were computed with (no row: none yet).
select settings, max_ts from wh_results_state where id = 1
