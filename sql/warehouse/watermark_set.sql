-- The watermark recomputed from what the warehouse holds (its one row replaced).
insert or replace into wh_watermark by name
with events as (
    select ts from wh_events
),

final as (
    select
        1 as id,
        max(ts) as max_ts,
        (select count(*) from wh_files) as files,
        count(*) as rows,
        now() as updated_at
    from events
)

select * from final
