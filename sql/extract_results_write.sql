-- The results of the recomputed rows (every row with a user when $all_rows), keyed by file
-- and row, for the warehouse to store (warehouse_results_insert).
copy (
    with exported as (
        select input_order, file_path, file_row, user_id, item_id
        from read_parquet($export)
        where
            user_id is not null
            and ($all_rows or user_id in (select user_id from recompute_users))
    ),

    final as (
        select
            e.file_path,
            e.file_row,
            e.user_id,
            e.item_id,
            t.type_kept,
            t.is_duplicate,
            t.drop_rule,
            t.seq,
            t.session_key
        from exported as e
        inner join typed_events as t on e.input_order = t.input_order
    )

    select * from final
) to $out (format parquet)
