-- Each test pair's cell in three slicings: the target item's popularity (head = the most
-- trained $head_share of the catalogue, tail = the rest, cold = never seen in training), the
-- test session's length (short <= $short_max events < long), and whether the query item was
-- trained at all (a cold query is a miss for the model by construction).
create or replace temp table pair_slices as
with ranked_items as (
    select item_id, row_number() over (order by train_count desc, item_id) as pop_rank
    from items
),

catalogue as (
    select count(*) as n from items
),

final as (
    select
        p.pair_id,
        case
            when r.pop_rank is null then 'cold'
            when r.pop_rank <= greatest(1, ceil($head_share * c.n)) then 'head'
            else 'tail'
        end as target_item,
        case when p.session_length <= $short_max then 'short' else 'long' end as session,
        case when q.item_id is null then 'cold' else 'trained' end as query_item
    from test_pairs as p
    cross join catalogue as c
    left join ranked_items as r on p.target_id = r.item_id
    left join items as q on p.query_id = q.item_id
)

select * from final
