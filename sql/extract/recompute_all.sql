-- A full recompute: no user keeps stored results (the set of users recomputed one by one
-- is empty; extract/typed_stored feeds every row).
create or replace temp table recompute_users (user_id varchar)
