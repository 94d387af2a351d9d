-- The warehouse's schema version (no row: none recorded).
select max(version) as version from wh_schema
