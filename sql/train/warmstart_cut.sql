-- The time that splits the training period into an "old" and a "new" part.
select
    min(ts) as first_ts,
    quantile_disc(ts, $old_fraction) as cut_ts,
    max(ts) + interval 1 second as end_ts
from events
where split = 'train'
