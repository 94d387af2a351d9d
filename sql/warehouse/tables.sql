-- The tables the warehouse holds (what the migration looks at before anything else).
select table_name from duckdb_tables() where database_name = current_database()
