-- The labelled popularity fallback, appended to the candidates of every list in
-- `cold_lists` (export/item_cold.sql, export/user_cold.sql): the $depth most trained items
-- (export/popular.sql), or with $same_attribute those of the anchor's category.
insert into candidates by name
with cold as (
    select list_id, anchor_id from cold_lists
),

attributes as (
    select item_id, category from item_attributes
),

popular as (
    select * from popular_items
),

final as (
    select
        c.list_id,
        c.anchor_id,
        p.item_id,
        p.score,
        case when $same_attribute then p.category_rank else p.global_rank end as pos,
        case when $same_attribute then 'popularity:same_attribute' else 'popularity' end
            as source
    from cold as c
    left join attributes as a on c.anchor_id = a.item_id
    inner join popular as p
        on
            (not $same_attribute and p.global_rank <= $depth)
            or ($same_attribute and p.category = a.category and p.category_rank <= $depth)
)

select * from final
