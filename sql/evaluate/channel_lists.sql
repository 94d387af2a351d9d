-- The count channel's item lists (the baseline $source) for the shard's query items.
select query_id, item_id, score
from candidates
where source = $source
