-- Rows of the JSON-lines input whose id column {{column}} holds a number DuckDB parses as a
-- double (a fraction or an exponent: what extract/read_json_text refuses), to name it.
with source as (
    select {{column}} as value from source_json
),

final as (
    select count(*) as fractional from source where fractional(value)
)

select * from final
