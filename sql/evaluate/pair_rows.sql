-- The next-item cases as arrays for numpy scoring (tasks/evaluate/ranks.py).
select pair_id, query_id, target_id from test_pairs
