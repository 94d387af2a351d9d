-- Drop the stored results of the users a stage recomputed (their rows may have changed).
delete from wh_results
where user_id in (select user_id from read_parquet($users))
