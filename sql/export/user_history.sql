-- Each user's most recent distinct items that the model knows, with their recency
-- (0 = newest): the input of the recency-weighted user vector; users in [$lo, $hi).
-- extract/user_items holds each (user, item) once with its latest time: also the items of
-- sessions too short to train on, which are still what the user did last.
with known as (
    select * from vocab
),

seen as (
    select user_id, item_id, ts, input_order
    from user_items
    where
        (cast($lo as varchar) is null or user_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or user_id < cast($hi as varchar))
),

final as (
    -- the join keeps the known items and gives their vocabulary row
    select
        s.user_id,
        k.row,
        row_number() over (
            partition by s.user_id order by s.ts desc, s.input_order desc
        ) - 1 as recency
    from seen as s
    inner join known as k on s.item_id = k.item_id
    qualify recency < $history
)

select * from final order by user_id, recency
