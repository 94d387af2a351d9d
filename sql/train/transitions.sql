-- Directed item-transition graph of the training sessions (token -> token, count), the
-- graph DeepWalk augmentation walks on.
with train_events as (
    select e.session, e.pos, i.token
    from events as e
    inner join items as i on e.item_id = i.item_id
    where e.split = 'train'
),

final as (
    select prev.token as src, nxt.token as dst, count(*) as n
    from train_events as prev
    inner join train_events as nxt
        on prev.session = nxt.session and nxt.pos = prev.pos + 1
    group by all
)

select * from final order by src, dst
