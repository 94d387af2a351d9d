-- The delimiter DuckDB's sniffer finds in the first CSV file (used when none is configured,
-- so every file of a glob or directory is read with the same one).
with sniffed as (
    select delimiter from sniff_csv($first_file)
),

final as (
    select delimiter as delimiter from sniffed
)

select * from final
