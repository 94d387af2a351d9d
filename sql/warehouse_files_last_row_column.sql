-- See warehouse_files_bytes_column: the last row number the file held when registered.
alter table wh_files add column if not exists last_row bigint
