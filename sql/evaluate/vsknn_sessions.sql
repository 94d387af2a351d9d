-- The training sessions session-kNN votes with: each session's distinct items and its start
-- time (candidates are the most recent sessions of an item).
with train_events as (
    select session, item_id, ts from events where split = 'train'
),

starts as (
    select session, epoch(min(ts)) as started from train_events group by session
),

final as (
    select distinct t.session, t.item_id, s.started
    from train_events as t
    inner join starts as s on t.session = s.session
)

select * from final
