-- An item-attributes file (Parquet), for the projections in export/attributes.sql and
-- data/attributes_titles.sql.
create or replace temp table attributes_source as
select * from read_parquet($path)
