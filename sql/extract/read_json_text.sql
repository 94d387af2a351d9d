-- Raw rows of JSON-lines files with every value as text, like read_csv's all_varchar: each
-- column is read as JSON (extract/read_json_raw's `source_json`) and a string becomes its
-- contents, a number or boolean its JSON text (7 stays '7', 7.0 '7.0', as written), null
-- NULL. So an id column's type is decided once for all its values.
-- An array or object in a column the run reads ({{c1}}..{{c5}}: the configured columns the
-- file has, NULL for the rest) is refused: its text is no id (an item '["a","b"]' would be
-- published). tasks/extract/read.py names the column in the error.
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
            else true
        end
),

final as (
    -- a column of the file's own named input_order gives way to the row number
    select row_number() over () as input_order, columns(lambda c: c <> 'input_order')
    from texts
)

select * from final
