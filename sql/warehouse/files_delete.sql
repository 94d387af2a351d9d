-- Forget the earlier fingerprints of files being registered again.
delete from wh_files where list_contains($paths, file_path)
