-- The refit's vocabulary: every item of every split with its count (a session written w
-- times by its event-type weight counts w times) and a dense token, most frequent first;
-- the same ordering as extract/items, over all events instead of the training split.
create or replace temp table refit_items as
with all_events as (
    select item_id, session_weight from events
),

counts as (
    select item_id, sum(session_weight)::bigint as n
    from all_events
    group by item_id
),

final as (
    select
        row_number() over (order by n desc, item_id) - 1 as token,
        item_id,
        n
    from counts
)

select * from final
