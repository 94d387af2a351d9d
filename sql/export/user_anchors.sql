-- Each user's latest item (users in [$lo, $hi), NULL = unbounded): the anchor of the user's
-- list, which the same-attribute and price rules compare candidates with. Every user with a
-- seen item (extract/user_items) gets a list, also one whose sessions were all too short
-- to train on.
create or replace temp table user_anchors as
with user_events as (
    select user_id, item_id, ts, input_order
    from user_items
    where
        (cast($lo as varchar) is null or user_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or user_id < cast($hi as varchar))
),

final as (
    select user_id, item_id
    from user_events
    qualify row_number() over (partition by user_id order by ts desc, input_order desc) = 1
)

select * from final
