-- Row and user counts of the exported files, for the stage report.
select
    (select count(*) from read_parquet($item_recs)) as item_recs_rows,
    (select count(*) from read_parquet($user_recs)) as user_recs_rows,
    (select count(distinct user_id) from read_parquet($user_recs)) as users,
    (select count(*) from read_parquet($user_recs_empty)) as users_without_list,
    (
        select count(distinct user_id) from read_parquet($user_recs)
        where source like 'popularity%'
    ) as users_fallback,
    (
        select count(distinct item_id) from read_parquet($item_recs)
        where source like 'popularity%'
    ) as items_fallback,
    (
        select count(*) from read_parquet($item_recs)
        where source in ('fusion', 'cooccurrence')
    ) as item_rows_from_cooccurrence
