-- The results of the recomputed rows (every row with a user when $all_rows), with the row
-- id and key the warehouse export gave them, for warehouse/results_update.
copy (
    with exported as (
        select input_order, row_id, file_path, file_row
        from read_parquet($export)
        where
            user_id is not null
            and ($all_rows or user_id in (select user_id from recompute_users))
    ),

    final as (
        select
            e.row_id,
            e.file_path,
            e.file_row,
            {
                'type_kept': t.type_kept,
                'is_duplicate': t.is_duplicate,
                'drop_rule': t.drop_rule,
                'seq': t.seq,
                'session_key': t.session_key
            } as result
        from exported as e
        inner join typed_events as t on e.input_order = t.input_order
    )

    select * from final
) to $out (format parquet)
