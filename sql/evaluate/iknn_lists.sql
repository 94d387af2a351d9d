-- Item-kNN (Ludewig & Jannach 2018's IKNN): cosine of two items' sets of training sessions
-- with shrinkage, |S_i ∩ S_j| / (sqrt(|S_i| |S_j|) + $shrink), for each wanted item; top
-- $depth inserted as source $source. Sessions are the splits $splits' (chunked by
-- extract.max_session_length, which bounds the pairs per session).
insert into candidates
with session_items as (
    select distinct session, item_id
    from events
    where list_contains($splits, split)
),

item_sessions as (
    select item_id, count(*) as n from session_items group by item_id
),

shared as (
    select a.item_id as query_id, b.item_id, count(*) as n
    from session_items as a
    inner join session_items as b on a.session = b.session and a.item_id <> b.item_id
    where a.item_id in (select item_id from wanted_items)
    group by all
),

scored as (
    select
        s.query_id,
        s.item_id,
        s.n / (sqrt(qa.n * qb.n) + $shrink) as score
    from shared as s
    inner join item_sessions as qa on s.query_id = qa.item_id
    inner join item_sessions as qb on s.item_id = qb.item_id
),

ranked as (
    select
        query_id,
        item_id,
        score,
        row_number() over (partition by query_id order by score desc, item_id) as rank
    from scored
    qualify rank <= $depth
),

final as (
    select $source as source, query_id, rank, item_id, score from ranked
)

select * from final
