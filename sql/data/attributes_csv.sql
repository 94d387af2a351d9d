-- An item-attributes file (CSV/TSV, delimiter sniffed) as text columns, for the projections
-- in export/attributes.sql and data/attributes_titles.sql.
create or replace temp table attributes_source as
select * from read_csv($path, header = true, all_varchar = true)
