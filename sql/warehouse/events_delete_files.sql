-- Drop the earlier rows of files being (re-)ingested whole, so a changed file replaces them.
delete from wh_events where list_contains($paths, file_path)
