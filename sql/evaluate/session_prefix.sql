-- What each session case knows: the items of its held-out session before it, with their
-- recency (0 = the item just before the case). A repeated item keeps one row per time seen.
create or replace temp table session_prefix as
with cases as (
    select pair_id, session, pos from session_cases
),

test_events as (
    select session, pos, item_id from events where split = 'test'
),

final as (
    select c.pair_id, e.item_id, c.pos - 1 - e.pos as recency
    from cases as c
    inner join test_events as e on e.session = c.session and e.pos < c.pos
)

select * from final
