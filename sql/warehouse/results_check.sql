-- Before storing: do the row ids of the results still name the rows they were computed
-- for (same file and row)? Any mismatch and the results are not stored.
with results as (
    select row_id, file_path, file_row from read_parquet($results)
),

matched as (
    select
        r.file_path = e.file_path and r.file_row = e.file_row as same_row
    from results as r
    inner join wh_events as e on e.rowid = r.row_id
),

final as (
    select
        (select count(*) from results) as results,
        count(*) filter (where same_row) as matching
    from matched
)

select * from final
