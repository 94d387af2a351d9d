-- Record the schema version the warehouse now has.
insert into wh_schema by name
select
    $version as version,
    now() as migrated_at
