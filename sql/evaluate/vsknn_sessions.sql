-- The training sessions session-kNN can vote with: each session's distinct items and its
-- start time, for the sessions among the $sample most recent ones (newest start first,
-- then the higher session number) of an item of the cases' last $items items. Those are
-- the only candidates vsknn.py draws, so the other sessions are never read into Python
-- (at 10M events they were millions of rows).
create or replace temp table vsknn_sessions as
with train_events as (
    select session, item_id, ts from events where split = 'train'
),

starts as (
    select session, epoch(min(ts)) as started from train_events group by session
),

session_items as (
    select distinct t.session, t.item_id, s.started
    from train_events as t
    inner join starts as s on t.session = s.session
),

prefix_items as (
    select distinct item_id from session_prefix where recency < $items
),

recent as (
    select si.session
    from session_items as si
    semi join prefix_items as p on si.item_id = p.item_id
    qualify
        row_number() over (
            partition by si.item_id order by si.started desc, si.session desc
        ) <= $sample
),

needed as (
    select distinct session from recent
),

final as (
    select si.session, si.item_id, si.started
    from session_items as si
    semi join needed as n on si.session = n.session
)

select * from final
