-- Insert the rows written by extract/ingest_write (no stored result yet).
insert into wh_events by name
select * from read_parquet($files)
