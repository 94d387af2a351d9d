-- Every warehouse event with its row id, its input order (files in path order, rows in
-- file order: what reading all the files at once gives) and its stored extract result
-- (`result`), for the stage to rebuild its tables from. A file read whole holds consecutive row numbers, so
-- its rows are numbered by offset without sorting the events; only files a backfill read in
-- part (gaps in their row numbers) are numbered by a sort.
copy (
    with events as (
        select
            rowid as row_id,
            *
        from wh_events
    ),

    per_file as (
        select
            file_path,
            count(*) as file_rows,
            min(file_row) as first_row,
            max(file_row) as last_row
        from events
        group by file_path
    ),

    bases as (
        select
            file_path,
            first_row,
            last_row - first_row + 1 = file_rows as consecutive,
            coalesce(
                sum(file_rows) over (
                    order by file_path rows between unbounded preceding and 1 preceding
                ),
                0
            ) as base
        from per_file
    ),

    numbered as (
        select
            b.base + e.file_row - b.first_row + 1 as input_order,
            e.*
        from events as e
        inner join bases as b on e.file_path = b.file_path
        where b.consecutive
        union all
        select
            b.base + row_number() over (partition by e.file_path order by e.file_row)
                as input_order,
            e.*
        from events as e
        inner join bases as b on e.file_path = b.file_path
        where not b.consecutive
    ),

    final as (
        select
            -- the sum of file sizes is a HUGEINT: back to the BIGINT a full read numbers with
            * replace (cast(input_order as bigint) as input_order)
        from numbered
    )

    select * from final
) to $out (format parquet)
