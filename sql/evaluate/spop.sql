-- Session popularity (S-POP, Ludewig & Jannach 2018): the items of the case's own session by
-- how often it showed them, then the $depth most popular training items (a popularity below
-- 1 only breaks ties), so $depth items remain after the session's own are removed (when
-- evaluate.exclude_session_items is on S-POP then ranks like popularity).
insert into session_candidates
with cases as (
    select pair_id from session_cases
),

own as (
    select pair_id, item_id, count(*) as n from session_prefix group by all
),

popular as (
    select item_id, train_count from items order by train_count desc, item_id limit $depth
),

top_count as (
    select max(train_count) + 1 as m from items
),

candidates_in as (
    select o.pair_id, o.item_id, o.n::double as score from own as o
    union all
    select c.pair_id, p.item_id, p.train_count / t.m as score
    from cases as c
    cross join popular as p
    cross join top_count as t
),

summed as (
    select pair_id, item_id, sum(score) as score from candidates_in group by all
),

ranked as (
    select
        pair_id,
        item_id,
        score,
        row_number() over (partition by pair_id order by score desc, item_id) as rank
    from summed
),

final as (
    select 'spop' as source, cast(pair_id as varchar) as query_id, rank, item_id, score
    from ranked
)

select * from final
