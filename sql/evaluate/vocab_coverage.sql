-- Share of held-out events whose item has a vector (`model_vocab` is registered from
-- vocab.parquet): the gate's check that the model still knows what users touch.
with test_events as (
    select item_id from events where split = 'test'
),

final as (
    select
        count(*) as test_events,
        coalesce(avg(case when v.item_id is null then 0.0 else 1.0 end), 0) as coverage
    from test_events as t
    left join (select distinct item_id from model_vocab) as v on t.item_id = v.item_id
)

select * from final
