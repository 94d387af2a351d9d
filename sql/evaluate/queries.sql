-- Distinct query items of the test pairs, for the FAISS search.
select distinct query_id from test_pairs order by query_id
