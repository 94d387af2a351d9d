-- Replace the stored item counts with this run's (written by extract/item_counts_write).
create or replace table wh_item_counts as
select item_id, events from read_parquet($counts)
