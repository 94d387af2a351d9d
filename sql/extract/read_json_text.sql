-- Raw rows of JSON-lines files with every value as text, like read_csv's all_varchar: each
-- column is read as JSON (extract/read_json_raw's `source_json`) and a string becomes its
-- contents, a number or boolean its JSON text (7 stays '7', 7.0 '7.0', as written), null
-- NULL. So an id column's type is decided once for all its values. An id ({{d1}}..{{d3}})
-- written as a number with a fraction or an exponent is refused: DuckDB parses it into a
-- double, so 7.50 would come back as '7.5', and 1e3 and 1E3 as one id '1000.0'.
-- An array or object in a column the run reads ({{c1}}..{{c5}}: the configured columns the
-- file has, NULL for the rest) is refused: its text is no id (an item '["a","b"]' would be
-- published). tasks/extract/read.py names the column in the error.
-- An integer too large for 64 bits is typed DOUBLE but kept as written (only digits).
create or replace temp macro fractional(value) as
    json_type(value) = 'DOUBLE' and not regexp_full_match(cast(value as varchar), '-?[0-9]+');

create or replace temp view source_view as
with source as (
    select * from source_json
),

texts as (
    select
        case json_type(columns(*))
            when 'VARCHAR' then columns(*) ->> '$'
            when 'NULL' then null
            else cast(columns(*) as varchar)
        end
    from source
    where
        case
            when
                json_type({{c1}}) in ('ARRAY', 'OBJECT')
                or json_type({{c2}}) in ('ARRAY', 'OBJECT')
                or json_type({{c3}}) in ('ARRAY', 'OBJECT')
                or json_type({{c4}}) in ('ARRAY', 'OBJECT')
                or json_type({{c5}}) in ('ARRAY', 'OBJECT')
                then error('recsys: nested JSON value in a column the run reads')
            when
                fractional({{d1}}) or fractional({{d2}}) or fractional({{d3}})
                then error('recsys: fractional JSON number in an id column')
            else true
        end
),

final as (
    -- a column of the file's own named input_order gives way to the row number
    select row_number() over () as input_order, columns(lambda c: c <> 'input_order')
    from texts
)

select * from final
