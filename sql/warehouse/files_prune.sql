-- After a backfill removed a range, forget files that no longer contribute any row (so the
-- file is read again if it is ever delivered again).
delete from wh_files
where file_path not in (select distinct file_path from wh_events)
