-- A corpus of a sample of the training sessions (by a hash of the session id, so the same
-- fraction gives the same sample) for fast tuning trials.
copy (
    with train_events as (
        select e.session, e.pos, i.token
        from events as e
        inner join items as i on e.item_id = i.item_id
        where e.split = 'train' and hash(e.session) % 1000 < $per_mille
    ),

    final as (
        select string_agg(cast(token as varchar), ' ' order by pos) as line
        from train_events
        group by session
        order by session
    )

    select * from final
) to $path (format csv, header false, quote '', escape '', delimiter '\t')
