-- Recompute the watermark from what the warehouse holds.
insert into wh_watermark
with events as (
    select ts from wh_events
),

final as (
    select
        max(ts) as max_ts,
        (select count(*) from wh_files) as files,
        count(*) as rows,
        now() as updated_at
    from events
)

select * from final
