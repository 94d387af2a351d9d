-- New rows older than the watermark (late-arriving events); counted, and sessionized
-- correctly because sessions are rebuilt from the warehouse.
with watermark as (
    select max(max_ts) as max_ts from wh_watermark
),

incoming as (
    select ts from read_parquet($files)
),

final as (
    select count(*) filter (where i.ts <= w.max_ts) as late_rows, count(*) as new_rows
    from incoming as i
    cross join watermark as w
)

select * from final
