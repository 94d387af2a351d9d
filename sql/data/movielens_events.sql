-- MovieLens-100K (RecBole's atomic files) -> the contract's events schema, as Parquet.
copy (
    with ratings as (
        select * from read_csv($path, delim = '\t', header = true, all_varchar = true)
    ),

    final as (
        select
            "user_id:token" as user_id,
            "item_id:token" as item_id,
            cast(cast("timestamp:float" as double) as bigint) as timestamp,
            'rating' as event_type,
            cast("rating:float" as double) as rating
        from ratings
    )

    select * from final
) to $out (format parquet)
