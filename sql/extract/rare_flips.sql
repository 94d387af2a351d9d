-- Items whose rare-item verdict this run flips (their count crossed $min_item_count because
-- the recomputed users' events changed) change the tags, sessions and sparse-user verdict
-- of every user with such an item: add those users to the recompute set. Their own counts
-- do not change, so one more pass settles it.
insert into recompute_users
with old_counts as (
    select item_id, events from read_parquet($old_counts)
),

recomputed as (
    select item_id, count(*) as events
    from typed_events
    where drop_rule is null or drop_rule in ('rare_item', 'sparse_user')
    group by item_id
),

new_counts as (
    select item_id, sum(events) as events
    from (
        select item_id, events from prior_item_counts
        union all
        select item_id, events from recomputed
    )
    group by item_id
),

flipped as (
    select coalesce(o.item_id, n.item_id) as item_id
    from old_counts as o
    full outer join new_counts as n on o.item_id = n.item_id
    where
        (coalesce(o.events, 0) < $min_item_count)
        != (coalesce(n.events, 0) < $min_item_count)
),

final as (
    select distinct w.user_id
    from warehouse_rows as w
    semi join flipped as f on w.item_id = f.item_id
    anti join recompute_users as r on w.user_id = r.user_id
    where
        w.has_result
        and w.user_id is not null
        and (w.result.drop_rule is null or w.result.drop_rule in ('rare_item', 'sparse_user'))
)

select * from final
