-- Write the committed ingest to the database file before the export reads row ids: a later
-- checkpoint then has no deleted rows to compact, so the ids stay what the export saw.
checkpoint
