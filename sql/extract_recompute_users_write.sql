-- The recomputed users, for the warehouse to drop their old results.
copy (
    with users as (
        select user_id from recompute_users
    ),

    final as (
        select user_id from users
    )

    select * from final
) to $out (format parquet)
