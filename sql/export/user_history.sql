-- Each user's most recent distinct items that the model knows, with their recency
-- (0 = newest): the input of the recency-weighted user vector; users in [$lo, $hi).
with known as (
    select * from vocab
),

latest as (
    select e.user_id, e.item_id, max(e.ts) as ts, max(e.input_order) as input_order
    from events as e
    inner join known as k on e.item_id = k.item_id
    where
        (cast($lo as varchar) is null or e.user_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or e.user_id < cast($hi as varchar))
    group by e.user_id, e.item_id
),

final as (
    select
        l.user_id,
        k.row,
        row_number() over (
            partition by l.user_id order by l.ts desc, l.input_order desc
        ) - 1 as recency
    from latest as l
    inner join known as k on l.item_id = k.item_id
    qualify recency < $history
)

select * from final order by user_id, recency
