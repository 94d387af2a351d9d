-- Test pairs per cell of the three slicings (summed over shards, then per slice).
select target_item, session, query_item, count(*) as pairs
from pair_slices
group by all
order by all
