-- Vocabulary of the training corpus: each training item with its corpus count (a session
-- written w times by its event-type weight counts w times) and a dense integer token (most
-- frequent first). The corpus uses the tokens, so any id text is safe in it.
create or replace table items as
with train_events as (
    select item_id, session_weight from events where split = 'train'
),

counts as (
    select item_id, sum(session_weight)::bigint as train_count
    from train_events
    group by item_id
),

final as (
    select
        row_number() over (order by train_count desc, item_id) - 1 as token,
        item_id,
        train_count
    from counts
)

select * from final
