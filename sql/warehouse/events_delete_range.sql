-- Backfill: drop every warehouse event in [$from_ts, $to_ts) before re-inserting the range.
delete from wh_events where ts >= $from_ts and ts < $to_ts
