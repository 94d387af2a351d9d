-- What each user has seen: every item of the user's usable rows of a kept event type, also
-- those training never reads (a session too short to keep, a collapsed repeat, a rare item,
-- a user too sparse to train on), with the user's latest time and input order on it. The
-- export's `seen` rule, user anchors and user histories read this table, not `events`: an
-- item a user saw only in a one-event session is still seen. Bot users' rows stay out
-- (their lists are the unknown-user fallback).
create or replace table user_items as
with usable as (
    select user_id, item_id, ts, input_order
    from typed_events
    where drop_rule is null or drop_rule in ('duplicate', 'rare_item', 'sparse_user')
),

final as (
    select user_id, item_id, max(ts) as ts, max(input_order) as input_order
    from usable
    group by user_id, item_id
)

select * from final
