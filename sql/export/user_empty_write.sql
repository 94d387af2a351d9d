-- user_recs_empty.parquet: the users who have seen an item (extract/user_items) but have no
-- row in user_recs, because every candidate was already seen or ruled out (a user who saw
-- the whole catalogue, or every allowed item). `recsys serve` and `recsys recommend` answer
-- them an empty list instead of the unknown-user popularity fallback.
copy (
    with seen_users as (
        select distinct user_id from user_items
    ),

    listed as (
        select distinct user_id from read_parquet($user_recs)
    ),

    final as (
        select s.user_id
        from seen_users as s
        anti join listed as l on s.user_id = l.user_id
    )

    select * from final order by user_id
) to $path (format parquet, compression zstd)
