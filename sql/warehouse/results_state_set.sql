-- Record the settings and future bound the stored results now correspond to.
insert or replace into wh_results_state by name
select
    1 as id,
    $settings as settings,
    $max_ts as max_ts,
    now() as updated_at
