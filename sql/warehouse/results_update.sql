-- Store the recomputed rows' results (checked by warehouse/results_check first).
update wh_events
set result = r.result
from read_parquet($results) as r
where wh_events.rowid = r.row_id
