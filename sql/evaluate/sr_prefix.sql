-- Whole-prefix sequential rules (`sr_prefix`, inserted as source $source): the sum over the
-- session's last $items items of their SR lists (source $rules in `candidates`, each
-- normalised by its best score), the item i steps back weighted $decay^i; top $depth per
-- case.
insert into session_candidates
with prefix as (
    select pair_id, item_id, pow($decay, recency) as w
    from session_prefix
    where recency < $items
),

lists as (
    select query_id, item_id, score / max(score) over (partition by query_id) as score
    from candidates
    where source = $rules
),

summed as (
    select p.pair_id, l.item_id, sum(p.w * l.score) as score
    from prefix as p
    inner join lists as l on l.query_id = p.item_id
    group by all
),

ranked as (
    select
        pair_id,
        item_id,
        score,
        row_number() over (partition by pair_id order by score desc, item_id) as rank
    from summed
    qualify rank <= $depth
),

final as (
    select $source as source, cast(pair_id as varchar) as query_id, rank, item_id, score
    from ranked
)

select * from final
