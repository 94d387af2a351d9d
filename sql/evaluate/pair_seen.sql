-- The items each case of {{cases}} saw earlier in its held-out session (removed from its
-- lists before scoring).
with cases as (
    select pair_id, session, pos from {{cases}}
),

test_events as (
    select session, pos, item_id from events where split = 'test'
),

final as (
    select c.pair_id, e.item_id
    from cases as c
    inner join test_events as e on e.session = c.session and e.pos < c.pos
)

select * from final
