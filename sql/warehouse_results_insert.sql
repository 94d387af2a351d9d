-- Store the results a stage computed (written by extract_results_write).
insert into wh_results
select file_path, file_row, user_id, item_id, type_kept, is_duplicate, drop_rule, seq, session_key
from read_parquet($results)
