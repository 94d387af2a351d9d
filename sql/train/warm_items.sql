-- The vocabulary of a warm start's corpus (`warm_events`): each item with its count (a
-- session written w times by its event-type weight counts w times) and a dense token, most
-- frequent first, as extract/items orders the training split's.
create or replace temp table warm_items as
with counts as (
    select item_id, sum(session_weight)::bigint as n
    from warm_events
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
