-- Token counts of the sampled corpus (tune/sample_corpus.sql), for build_vocab_from_freq.
with train_events as (
    select i.token
    from events as e
    inner join items as i on e.item_id = i.item_id
    where e.split = 'train' and hash(e.session) % 1000 < $per_mille
),

final as (
    select cast(token as varchar) as token, count(*) as n
    from train_events
    group by token
)

select * from final
