-- Every baseline list of every test item (the session task reads the `sr` lists of the
-- sessions' items, and the count channel's).
create or replace temp table candidates as
select source, query_id, rank, item_id, score
from read_parquet($path)
