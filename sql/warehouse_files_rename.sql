-- A file registered under the name it was given (before files were keyed by absolute path)
-- takes its absolute path.
update wh_files
set file_path = r.new_path
from (
    select
        unnest($old_paths::varchar[]) as old_path,
        unnest($new_paths::varchar[]) as new_path
) as r
where wh_files.file_path = r.old_path
