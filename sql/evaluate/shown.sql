-- What the test users were shown at cut-off $k: per source and recommended item, the number
-- of test pairs whose query list holds it. Written per shard; evaluate/beyond combines.
copy (
    with query_weights as (
        select query_id, count(*) as w from test_pairs group by query_id
    ),

    final as (
        select c.source, c.item_id, sum(q.w) as weight
        from candidates as c
        inner join query_weights as q on c.query_id = q.query_id
        where c.rank <= $k
        group by all
    )

    select * from final
) to $path (format parquet)
