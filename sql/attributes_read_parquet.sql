-- An item-attributes file (Parquet), for the projections in export_attributes.sql and
-- evaluate_item_attributes.sql.
create or replace temp table attributes_source as
select * from read_parquet($path)
