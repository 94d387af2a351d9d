-- User-list candidates: the model's items for each placed user, and for users the model
-- cannot place (no known item) a labelled popularity fallback (same attribute as their
-- latest item when configured). The anchor of a user list is the user's latest item.
-- A shard builds the lists of the users in [$lo, $hi) (NULL = unbounded).
create or replace temp table candidates as
with model as (
    select c.user_id as list_id, v.item_id, c.score
    from user_candidates as c
    inner join vocab as v on c.item_row = v.row
),

latest as (
    select user_id, item_id
    from events
    where
        (cast($lo as varchar) is null or user_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or user_id < cast($hi as varchar))
    qualify row_number() over (partition by user_id order by ts desc, input_order desc) = 1
),

cold_users as (
    select l.user_id as list_id, l.item_id as anchor_id
    from latest as l
    where l.user_id not in (select user_id from user_candidates)
),

popular as (
    select * from popular_items
),

fallback as (
    select
        c.list_id,
        c.anchor_id,
        p.item_id,
        p.score,
        case when $same_attribute then 'popularity:same_attribute' else 'popularity' end
            as source
    from cold_users as c
    left join item_attributes as a on c.anchor_id = a.item_id
    inner join popular as p
        on
            (not $same_attribute and p.global_rank <= $depth)
            or ($same_attribute and p.category = a.category and p.category_rank <= $depth)
),

final as (
    select m.list_id, l.item_id as anchor_id, m.item_id, m.score, $source as source
    from model as m
    inner join latest as l on m.list_id = l.user_id
    union all
    select list_id, anchor_id, item_id, score, source from fallback
)

select * from final
