-- One typed row per input row: ids as text exactly as given (blank -> NULL), timestamps parsed from
-- ISO text (with or without zone), TIMESTAMP values, or Unix s/ms/us/ns epochs; UTC.
-- Unparseable timestamps become NULL here and are counted by the quality stage. A table
-- macro, not a table: extract/rows types the rows as it reads them (a copy of 10M typed
-- rows would take most of the memory limit), extract/ingest_write writes them for the
-- warehouse. Called as `typed_rows(timestamp_unit, timestamp_format)`: a format (strptime's,
-- e.g. '%d-%m-%Y') reads every timestamp's text with it instead.
-- An id's text: a BLOB column (Parquet BINARY without its UTF-8 annotation, as some
-- Spark/Hive writers store strings) is decoded as UTF-8, not printed as '\xC3\xA9' escapes.
create or replace temp macro id_text(value) as
    case
        when typeof(value) = 'BLOB'
            then coalesce(try(decode(value::blob)), error('recsys: id bytes that are not UTF-8'))
        else cast(value as varchar)
    end;

create or replace temp macro typed_rows(timestamp_unit, timestamp_format) as table
with source as (
    select * from source_rows
),

renamed as (
    select
        input_order,
        -- Ids are the column's text exactly as given (' padded' is not 'padded'; a blank
        -- one is missing); each column's type is decided once (CSV and JSON are read as
        -- text), so no id is renamed by a cast that depends on its value. NaN or inf in a
        -- float column (what pandas writes for a missing id) is a missing id; the text
        -- 'nan' in a text column is an id like any other.
        case
            when
                typeof({{user_id}}) in ('FLOAT', 'DOUBLE')
                and not isfinite(try_cast({{user_id}} as double))
                then null
            when trim(id_text({{user_id}})) <> '' then id_text({{user_id}})
        end as user_id,
        case
            when
                typeof({{item_id}}) in ('FLOAT', 'DOUBLE')
                and not isfinite(try_cast({{item_id}} as double))
                then null
            when trim(id_text({{item_id}})) <> '' then id_text({{item_id}})
        end as item_id,
        -- A time column of integers or floats (Parquet, JSON) is read as its number, not
        -- through its text (the same value: DuckDB prints such numbers in a form that
        -- parses back exactly, and that text has no spaces to trim); typeof() is a
        -- constant, so each CASE reduces to one branch when the statement is planned.
        case
            when typeof({{timestamp}}) in (
                'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT',
                'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'FLOAT', 'DOUBLE'
            )
                then cast({{timestamp}} as varchar)
            else nullif(trim(cast({{timestamp}} as varchar)), '')
        end as ts_text,
        case
            when typeof({{timestamp}}) in (
                'TINYINT', 'SMALLINT', 'INTEGER', 'BIGINT',
                'UTINYINT', 'USMALLINT', 'UINTEGER', 'UBIGINT', 'FLOAT', 'DOUBLE'
            )
                then cast({{timestamp}} as double)
            else try_cast(nullif(trim(cast({{timestamp}} as varchar)), '') as double)
        end as ts_number,
        nullif(trim(cast({{event_type}} as varchar)), '') as event_type,
        case
            when trim(id_text({{session_id}})) <> '' then id_text({{session_id}})
        end as session_ref
    from source
),

epoch_seconds as (
    select
        *,
        case
            when ts_number is null or not isfinite(ts_number) then null
            when timestamp_unit = 'ms' then ts_number / 1e3
            when timestamp_unit = 'us' then ts_number / 1e6
            when timestamp_unit = 'ns' then ts_number / 1e9
            when timestamp_unit = 'auto' and abs(ts_number) > 1e17 then ts_number / 1e9
            when timestamp_unit = 'auto' and abs(ts_number) > 1e14 then ts_number / 1e6
            when timestamp_unit = 'auto' and abs(ts_number) > 1e11 then ts_number / 1e3
            else ts_number
        end as ts_seconds
    from renamed
),

final as (
    select
        input_order,
        user_id,
        item_id,
        case
            -- A configured format wins: '20150721' is a date to it, not an epoch.
            when timestamp_format is not null then try_strptime(ts_text, timestamp_format)
            -- 9e12 s is near TIMESTAMP's upper bound; larger values are broken, not dates.
            -- make_timestamp(microseconds) is to_timestamp(seconds) at time zone 'UTC'
            -- without the time-zone conversion (a tenth of the cost at 10M rows).
            when ts_seconds is not null and abs(ts_seconds) < 9e12
                then make_timestamp(cast(ts_seconds * 1000000 as bigint))
            when ts_number is null
                then try_cast(ts_text as timestamptz) at time zone 'UTC'
        end as ts,
        ts_text,
        event_type,
        session_ref
    from epoch_seconds
)

select * from final
