-- The session task's cases: the test pairs of a sample of whole held-out sessions, about
-- $max_cases of them (sessions are drawn by a salted hash of their number: a rerun draws the
-- same, and the draw is uniform inside the hash range evaluate/pairs kept). `query_id` names
-- the case's own list: each case is scored from its whole recent session, not from its last
-- item.
create or replace temp table session_cases as
with pairs as (
    select pair_id, session, pos, target_id from test_pairs
),

sessions as (
    select session, count(*) as n from pairs group by session
),

total as (
    select sum(n) as cases from sessions
),

sampled as (
    select s.session
    from sessions as s
    cross join total as t
    where hash(s.session, 'session_cases') % 1000000 < 1000000.0 * $max_cases / greatest(t.cases, 1)
),

final as (
    select p.pair_id, p.session, p.pos, cast(p.pair_id as varchar) as query_id, p.target_id
    from pairs as p
    where p.session in (select session from sampled)
)

select * from final
