-- Training sessions that start in [$since, $until), as a corpus file: the "old" and "new"
-- halves a warm start is compared on.
copy (
    with train_events as (
        select
            e.session,
            e.pos,
            i.token,
            min(e.ts) over (partition by e.session) as session_start
        from events as e
        inner join items as i on e.item_id = i.item_id
        where e.split = 'train'
    ),

    final as (
        select string_agg(cast(token as varchar), ' ' order by pos) as line
        from train_events
        where session_start >= $since and session_start < $until
        group by session
        order by session
    )

    select * from final
) to $path (format csv, header false, quote '', escape '', delimiter '\t')
