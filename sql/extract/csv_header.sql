-- The first CSV file's header row as written (DuckDB's reader renames a repeated name to
-- name_1, which would hide that the header names a column twice).
with header_row as (
    select * from read_csv($first_file, header = false, delim = $delimiter, all_varchar = true)
    limit 1
),

final as (
    select * from header_row
)

select * from final
