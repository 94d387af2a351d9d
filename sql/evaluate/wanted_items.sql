-- The items whose baseline lists the evaluation needs: every item of the scored test
-- sessions ([$sample_lo, $sample_ppm), see evaluate/pairs; the next-item task queries some of them,
-- the session task reads the lists of all of them).
create or replace temp table wanted_items as
select distinct item_id
from events
where
    split = 'test'
    and hash(session) % 1000000 >= $sample_lo
    and hash(session) % 1000000 < $sample_ppm
