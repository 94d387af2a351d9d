-- HR@$k and MRR@$k per slice: the target item's popularity (head = the most trained
-- $head_share of the catalogue, tail = the rest, cold = never seen in training) and the
-- test session's length (short <= $short_max events < long). Hits are aggregated per
-- (source, item slice, session slice) first, so the big tables are scanned once.
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

cells as (
    select target_item, session, count(*) as pairs
    from pair_slices
    group by all
),

cell_hits as (
    select h.source, s.target_item, s.session, count(*) as hits, sum(1.0 / h.hit_rank) as rr
    from hits as h
    inner join pair_slices as s on h.pair_id = s.pair_id
    where h.hit_rank <= $k
    group by all
),

grid as (
    select src.source, c.target_item, c.session, c.pairs, coalesce(h.hits, 0) as hits,
        coalesce(h.rr, 0) as rr
    from cells as c
    cross join (select distinct source from candidates) as src
    left join cell_hits as h
        on h.source = src.source and h.target_item = c.target_item and h.session = c.session
),

long_form as (
    select source, 'target_item' as dimension, target_item as slice, pairs, hits, rr from grid
    union all
    select source, 'session' as dimension, session as slice, pairs, hits, rr from grid
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
