-- Popularity baseline: the most frequent training items, never the query itself.
insert into candidates
with queries as (
    select distinct query_id from test_pairs
),

popular as (
    select item_id, train_count
    from items
    order by train_count desc, item_id
    limit $k + 1
),

ranked as (
    select
        q.query_id,
        p.item_id,
        row_number() over (
            partition by q.query_id order by p.train_count desc, p.item_id
        ) as rank
    from queries as q
    cross join popular as p
    where p.item_id <> q.query_id
),

final as (
    select 'popularity' as source, query_id, rank, item_id
    from ranked
    where rank <= $k
)

select * from final
