-- One row describing the training corpus and its vocabulary: how many items and tokens
-- training sees and how much of the held-out split the
-- training vocabulary covers (test items never seen in training cannot be recommended).
with train as (
    select item_id from events where split = 'train'
),

test as (
    select t.item_id, v.item_id is not null as covered
    from events as t
    left join items as v on t.item_id = v.item_id
    where t.split = 'test'
),

final as (
    select
        (select count(*) from items) as train_items,
        (select count(*) from train) as train_tokens,
        (select count(*) from test) as test_tokens,
        coalesce((select avg(case when covered then 1.0 else 0.0 end) from test), 0)
            as test_coverage
)

select * from final
