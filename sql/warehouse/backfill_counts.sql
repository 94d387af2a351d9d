-- Backfill: the warehouse events a range replacement deletes, and the rows read that
-- replace them. Replacing many with none is refused unless asked for (an empty or wrong
-- delivery would otherwise silently erase the range).
with stored as (
    select count(*) as n from wh_events where ts >= $from_ts and ts < $to_ts
),

incoming as (
    select count(*) as n from read_parquet($files) where ts >= $from_ts and ts < $to_ts
),

final as (
    select stored.n as stored_rows, incoming.n as incoming_rows
    from stored
    cross join incoming
)

select * from final
