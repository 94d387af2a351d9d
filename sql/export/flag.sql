-- Business rules over the current candidates, in order; each row gets the first rule that
-- removes it (null = kept), so the counts per rule add up to the rows removed.
create or replace temp table flagged as
with candidates_in as (
    select * from candidates
),

seen as (
    select user_id, item_id from user_items
),

final as (
    select
        c.*,
        case
            when c.item_id = c.list_id and $kind = 'item' then 'self'
            when s.item_id is not null then 'seen'
            when c.item_id in (select item_id from blocklist) then 'blocklist'
            when $use_allowlist and c.item_id not in (select item_id from allowlist)
                then 'allowlist'
            when
                $same_attribute
                and (b.category is null or a.category is distinct from b.category)
                then 'same_attribute'
            when
                cast($price_gap as double) is not null
                and (
                    a.price is null
                    or b.price is null
                    or abs(b.price - a.price) > cast($price_gap as double) * abs(a.price)
                )
                then 'price_gap'
        end as removed_by
    from candidates_in as c
    left join seen as s
        on $kind = 'user' and $exclude_seen and s.user_id = c.list_id and s.item_id = c.item_id
    left join item_attributes as a on c.anchor_id = a.item_id
    left join item_attributes as b on c.item_id = b.item_id
)

select * from final
