-- A full recompute replaces every stored result.
delete from wh_results
