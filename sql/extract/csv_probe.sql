-- Reading one CSV file with a known delimiter, the standard quote and as many text columns
-- as its header has, nothing sniffed (DuckDB's sniffer gave up on it): the strict reader
-- then names the first line that does not fit (extract/read.py turns that into the error the
-- user sees).
with rows_read as (
    select *
    from read_csv(
        $file,
        delim = $delimiter,
        quote = '"',
        escape = '"',
        header = true,
        auto_detect = false,
        columns = $columns,
        strict_mode = true
    )
),

final as (
    select count(*) as row_count from rows_read
)

select * from final
