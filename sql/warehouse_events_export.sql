-- Every warehouse event with its input order (files in path order, rows in file order: what
-- reading all the files at once gives) and its stored extract results (NULL when it has
-- none), for the stage to rebuild its tables from.
copy (
    with events as (
        select * from wh_events
    ),

    results as (
        select * from wh_results
    ),

    final as (
        select
            row_number() over (order by e.file_path, e.file_row) as input_order,
            e.*,
            r.file_row is not null as has_result,
            r.type_kept,
            r.is_duplicate,
            r.drop_rule,
            r.seq,
            r.session_key
        from events as e
        left join results as r on e.file_path = r.file_path and e.file_row = r.file_row
    )

    select * from final
) to $out (format parquet)
