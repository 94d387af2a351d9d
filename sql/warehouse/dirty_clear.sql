-- Clear the marks a stage has handled: exactly those it read (a mark set by an ingest that
-- ran meanwhile stays for the next run).
delete from wh_dirty as d
using read_parquet($marks) as m
where d.user_id = m.user_id and d.batch = m.batch
