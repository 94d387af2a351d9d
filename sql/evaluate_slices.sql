-- HR@$k and MRR@$k per slice: the target item's popularity (head = the most trained
-- $head_share of the catalogue, tail = the rest, cold = never seen in training), the test
-- session's length (short <= $short_max events < long), and whether the query item was
-- trained at all (a cold query is a miss for the model by construction). Hits are
-- aggregated per cell of the three slicings first, so the big tables are scanned once.
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
        case when p.session_length <= $short_max then 'short' else 'long' end as session,
        case when q.item_id is null then 'cold' else 'trained' end as query_item
    from test_pairs as p
    cross join catalogue as c
    left join ranked_items as r on p.target_id = r.item_id
    left join items as q on p.query_id = q.item_id
),

cells as (
    select target_item, session, query_item, count(*) as pairs
    from pair_slices
    group by all
),

cell_hits as (
    select
        h.source,
        s.target_item,
        s.session,
        s.query_item,
        count(*) as hits,
        sum(1.0 / h.hit_rank) as rr
    from hits as h
    inner join pair_slices as s on h.pair_id = s.pair_id
    where h.hit_rank <= $k
    group by all
),

grid as (
    select
        src.source,
        c.target_item,
        c.session,
        c.query_item,
        c.pairs,
        coalesce(h.hits, 0) as hits,
        coalesce(h.rr, 0) as rr
    from cells as c
    cross join (select distinct source from candidates) as src
    left join cell_hits as h
        on
            h.source = src.source
            and h.target_item = c.target_item
            and h.session = c.session
            and h.query_item = c.query_item
),

long_form as (
    select source, 'target_item' as dimension, target_item as slice, pairs, hits, rr from grid
    union all
    select source, 'session' as dimension, session as slice, pairs, hits, rr from grid
    union all
    select source, 'query_item' as dimension, query_item as slice, pairs, hits, rr from grid
),

final as (
    select
        source,
        dimension,
        slice,
        sum(pairs) as pairs,
        sum(hits) / sum(pairs) as hr,
        sum(rr) / sum(pairs) as mrr
    from long_form
    group by all
)

select * from final order by dimension, slice, source
