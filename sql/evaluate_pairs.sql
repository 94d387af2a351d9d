-- Next-item test cases: inside each held-out session, the previous item is the query and
-- the item that followed is the target; the session's length feeds the session slices.
-- pair_id only needs to be unique (no global sort: it is the slowest step at 10M events).
create or replace temp table test_pairs as
with test_events as (
    select session, pos, item_id, session_length
    from events
    where split = 'test'
),

final as (
    select
        row_number() over () as pair_id,
        prev.item_id as query_id,
        nxt.item_id as target_id,
        prev.session_length
    from test_events as prev
    inner join test_events as nxt
        on prev.session = nxt.session and nxt.pos = prev.pos + 1
)

select * from final
