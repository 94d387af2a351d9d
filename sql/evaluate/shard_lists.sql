-- A shard's baseline lists: those of its cases' query items, from the lists computed once
-- for all test items (evaluate/baselines).
create or replace temp table candidates as
with lists as (
    select * from read_parquet($path)
),

final as (
    select source, query_id, rank, item_id, score
    from lists
    where query_id in (select query_id from test_pairs)
)

select * from final
