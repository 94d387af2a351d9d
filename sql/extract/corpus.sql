-- gensim corpus_file input: one session of the splits $splits of {{events}} per line (events;
-- warm_events: a warm start's), as tokens of the vocabulary table {{vocabulary}} (items: the
-- training split's; refit_items: every split's; warm_items) separated by spaces; a session
-- of weight w (event_type_weights) is written w times.
copy (
    with train_events as (
        select e.session, e.pos, e.session_weight, i.token
        from {{events}} as e
        inner join {{vocabulary}} as i on e.item_id = i.item_id
        where list_contains($splits, e.split)
    ),

    lines as (
        select
            session,
            max(session_weight) as weight,
            string_agg(cast(token as varchar), ' ' order by pos) as line
        from train_events
        group by session
    ),

    copies as (
        select session, line, unnest(range(weight)) as copy
        from lines
    ),

    final as (
        select line
        from copies
        order by session, copy
    )

    select * from final
) to $path (format csv, header false, quote '', escape '', delimiter '\t')
