-- Popularity baseline: the most frequent training items (never the query itself) for each
-- wanted item, scored by their training count.
insert into candidates
with wanted as (
    select item_id as query_id from wanted_items
),

popular as (
    select item_id, train_count
    from items
    order by train_count desc, item_id
    limit $depth + 1
),

ranked as (
    select
        w.query_id,
        p.item_id,
        p.train_count,
        row_number() over (
            partition by w.query_id order by p.train_count desc, p.item_id
        ) as rank
    from wanted as w
    cross join popular as p
    where p.item_id <> w.query_id
),

final as (
    select 'popularity' as source, query_id, rank, item_id, train_count::double as score
    from ranked
    where rank <= $depth
)

select * from final
