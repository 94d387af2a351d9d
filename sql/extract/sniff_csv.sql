-- The delimiter DuckDB's sniffer finds in the first CSV file (used when none is configured,
-- so every file of a glob or directory is read with the same one), and how many columns it
-- splits the header into (one: the sniffer gave up, e.g. on a short row; extract/read.py
-- then tries the usual delimiters).
with sniffed as (
    select delimiter, len(columns) as column_count from sniff_csv($first_file)
),

final as (
    select delimiter as delimiter, column_count as column_count from sniffed
)

select * from final
