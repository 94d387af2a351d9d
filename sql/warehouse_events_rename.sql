-- The rows of a renamed file (warehouse_files_rename) follow it.
update wh_events
set file_path = r.new_path
from (
    select
        unnest($old_paths::varchar[]) as old_path,
        unnest($new_paths::varchar[]) as new_path
) as r
where wh_events.file_path = r.old_path
