-- Hits per source and rank (integers): metrics are combined from these, so shards add up
-- exactly and MRR/NDCG are summed in one fixed order.
select source, hit_rank, count(*) as hits
from {{hits}}
group by all
order by source, hit_rank
