-- Next-item test cases: inside each held-out session, every event after the first is a case;
-- the event before it is the query (the last item), the session and position locate the
-- items already seen in the session (removed from every list before scoring), and the
-- session's length feeds the session slices. pair_id only needs to be unique (no global sort:
-- it is the slowest step at 10M events). A shard keeps the cases whose query item is in
-- [$lo, $hi) (NULL = unbounded). Only the sessions drawn by evaluate/sample_share count: a
-- hash of the session number in [$sample_lo, $sample_ppm) millionths (a run that chooses its
-- weights does so on one range and is gated on another, tasks/evaluate/choice.py).
create or replace temp table test_pairs as
with test_events as (
    select session, pos, item_id, session_length
    from events
    where
        split = 'test'
        and hash(session) % 1000000 >= $sample_lo
        and hash(session) % 1000000 < $sample_ppm
),

final as (
    select
        row_number() over () as pair_id,
        nxt.session,
        nxt.pos,
        prev.item_id as query_id,
        nxt.item_id as target_id,
        prev.session_length
    from test_events as prev
    inner join test_events as nxt
        on prev.session = nxt.session and nxt.pos = prev.pos + 1
    where
        (cast($lo as varchar) is null or prev.item_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or prev.item_id < cast($hi as varchar))
)

select * from final
