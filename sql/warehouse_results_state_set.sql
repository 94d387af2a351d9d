-- Record the settings and future bound the stored results now correspond to.
insert or replace into wh_results_state
values (1, $settings, $max_ts, now())
