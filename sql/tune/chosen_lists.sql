-- The chosen grid point of each item baseline, under its plain name ($old[i] -> $new[i]):
-- the lists trials and the session baselines read, written once.
copy (
    with names as (
        select unnest($old) as old, unnest($new) as new
    ),

    final as (
        select n.new as source, c.query_id, c.rank, c.item_id, c.score
        from candidates as c
        inner join names as n on c.source = n.old
    )

    select * from final
) to $path (format parquet)
