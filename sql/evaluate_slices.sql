-- HR@$k and MRR@$k per slice: the target item's popularity (head = the most trained
-- $head_share of the catalogue, tail = the rest, cold = never seen in training) and the
-- test session's length (short <= $short_max events < long).
with ranked_items as (
    select item_id, row_number() over (order by train_count desc, item_id) as pop_rank
    from items
),

catalogue as (
    select count(*) as n from items
),

pair_slices as (
    select
        p.pair_id,
        case
            when r.pop_rank is null then 'cold'
            when r.pop_rank <= greatest(1, ceil($head_share * c.n)) then 'head'
            else 'tail'
        end as target_item,
        case when p.session_length <= $short_max then 'short' else 'long' end as session
    from test_pairs as p
    cross join catalogue as c
    left join ranked_items as r on p.target_id = r.item_id
),

long_form as (
    select pair_id, 'target_item' as dimension, target_item as slice from pair_slices
    union all
    select pair_id, 'session' as dimension, session as slice from pair_slices
),

final as (
    select
        h.source,
        l.dimension,
        l.slice,
        count(*) as pairs,
        avg(case when h.hit_rank <= $k then 1.0 else 0.0 end) as hr,
        avg(case when h.hit_rank <= $k then 1.0 / h.hit_rank else 0.0 end) as mrr
    from hits as h
    inner join long_form as l on h.pair_id = l.pair_id
    group by all
)

select * from final order by dimension, slice, source
