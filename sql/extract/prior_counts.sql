-- Per item, the events of the users who keep their stored results that passed every rule
-- before the rare-item rule: extract/rows adds them to its own counts, so the rare-item rule
-- still counts over the whole log when it sees only the recomputed users' rows.
create or replace temp table prior_item_counts as
with stored as (
    select item_id, user_id, result.drop_rule as drop_rule
    from warehouse_rows
    where has_result and user_id is not null
),

final as (
    select
        s.item_id,
        count(*) as events
    from stored as s
    anti join recompute_users as r on s.user_id = r.user_id
    where s.drop_rule is null or s.drop_rule in ('rare_item', 'sparse_user')
    group by s.item_id
)

select * from final
