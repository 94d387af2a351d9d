-- The baselines' lists, written once for the shards and the session task to read.
copy (select * from candidates) to $path (format parquet)
