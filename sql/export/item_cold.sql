-- Items that need the popularity fallback (export/fallback.sql): seen in the events or the
-- attributes file but without a vector, in [$lo, $hi) (NULL = unbounded); each list is
-- anchored on its own item.
create or replace temp table cold_lists as
with catalogue as (
    select distinct item_id from events
    union
    select item_id from item_attributes
),

final as (
    select
        c.item_id as list_id,
        c.item_id as anchor_id
    from catalogue as c
    where
        c.item_id not in (select item_id from vocab)
        and (cast($lo as varchar) is null or c.item_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or c.item_id < cast($hi as varchar))
)

select * from final
