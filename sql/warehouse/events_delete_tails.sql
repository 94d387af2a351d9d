-- Appended files: drop each one's rows from its last registered row on (that row is read
-- again, in case it was cut mid-line when the file was last read); the rest stay.
delete from wh_events as e
using (
    select
        unnest($tail_paths::varchar[]) as file_path,
        unnest($tail_rows::bigint[]) as from_row
) as t
where e.file_path = t.file_path and e.file_row >= t.from_row
