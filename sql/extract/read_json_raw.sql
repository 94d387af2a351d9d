-- Rows of JSON-lines files with every column read as JSON (extract_source.columns, from
-- extract/read_json's schema): what extract/read_json_text turns into text, and what
-- extract/json_nested counts in when it names a column holding arrays or objects.
create or replace temp view source_json as
with source as (
    select *
    from read_json(
        getvariable('extract_source').files,
        format = 'auto',
        union_by_name = true,
        columns = getvariable('extract_source').columns
    )
),

final as (
    select * from source
)

select * from final
