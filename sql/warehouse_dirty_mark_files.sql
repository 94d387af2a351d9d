-- Mark the users of every row of these files (renamed files: their rows' input order may
-- move relative to other files').
insert into wh_dirty
with rows_of_files as (
    select user_id
    from wh_events
    where list_contains($paths::varchar[], file_path)
),

final as (
    select distinct
        user_id,
        $batch as batch
    from rows_of_files
    where user_id is not null
)

select * from final
