-- A file's size when ingested and the last row number it held then: an incremental run
-- recognises a file that has only grown since (an append-only log) and reads just its new
-- rows. Added to warehouses created before them (NULL there: such a file is read whole).
alter table wh_files add column if not exists bytes bigint
