-- Distinct items of the scored test sessions ([$sample_lo, $sample_ppm), evaluate/pairs) in
-- [$lo, $hi), sorted: the rows searched with FAISS (a superset of the query items) and the
-- ids the evaluate shards are cut from.
with test_items as (
    select distinct item_id
    from events
    where
        split = 'test'
        and hash(session) % 1000000 >= $sample_lo
        and hash(session) % 1000000 < $sample_ppm
),

final as (
    select item_id
    from test_items
    where
        (cast($lo as varchar) is null or item_id >= cast($lo as varchar))
        and (cast($hi as varchar) is null or item_id < cast($hi as varchar))
)

select * from final order by item_id
