-- Rows of the JSON-lines input whose {{column}} holds an array or an object (what
-- extract/read_json_text refuses), to name the column in the error.
with source as (
    select {{column}} as value from source_json
),

final as (
    select count(*) as nested from source where json_type(value) in ('ARRAY', 'OBJECT')
)

select * from final
