-- The most popular items of the final events with their counts: the popularity
-- distribution that drift compares against the previous successful run.
with counts as (
    select item_id, count(*) as n
    from events
    group by item_id
),

final as (
    select item_id, n
    from counts
    order by n desc, item_id
    limit $top_k
)

select * from final
