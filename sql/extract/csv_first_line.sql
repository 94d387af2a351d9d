-- The first line of a CSV file as written, nothing sniffed: extract/read.py splits it into
-- the header's names (a name given twice, the delimiter when DuckDB's sniffer gave up).
with first_line as (
    select line
    from read_csv(
        $file,
        delim = chr(31),
        quote = '',
        escape = '',
        header = false,
        auto_detect = false,
        columns = {'line': 'VARCHAR'},
        strict_mode = false
    )
    limit 1
),

final as (
    select line as line from first_line
)

select * from final
