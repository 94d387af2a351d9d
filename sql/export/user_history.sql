-- Each user's most recent distinct items that the model knows, with their recency
-- (0 = newest): the input of the recency-weighted user vector; users in [$lo, $hi).
-- extract/user_items holds each (user, item) once with its latest time: also the items of
-- sessions too short to train on, which are still what the user did last.
with known as (
    select * from vocab
),

latest as (
    select u.user_id, u.item_id, u.ts, u.input_order
    from user_items as u
    semi join known as k on u.item_id = k.item_id
    where
        (cast($lo as varchar) is null or u.user_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or u.user_id < cast($hi as varchar))
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
