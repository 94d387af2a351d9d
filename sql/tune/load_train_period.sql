-- Load the training period into the validation stage under the name extract/split reads.
create or replace table sessionized_events as
select * from read_parquet($path)
