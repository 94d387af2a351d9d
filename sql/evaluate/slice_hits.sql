-- Hits at most rank $k per source, cell and rank (integers, summed over shards).
select h.source, s.target_item, s.session, s.query_item, h.hit_rank, count(*) as hits
from hits as h
inner join pair_slices as s on h.pair_id = s.pair_id
where h.hit_rank <= $k
group by all
order by all
