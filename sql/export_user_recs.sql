-- user_recs.parquet (contract schema): model candidates minus already-seen items, top-K;
-- users the model cannot place (no known item) get popular unseen items instead.
copy (
    with candidates as (
        select c.user_id, v.item_id, c.score
        from user_candidates as c
        inner join vocab as v on c.item_row = v.row
    ),

    seen as (
        select distinct user_id, item_id from events
    ),

    unseen_candidates as (
        select c.*
        from candidates as c
        where
            not $exclude_seen
            or not exists (
                select 1 from seen as s
                where s.user_id = c.user_id and s.item_id = c.item_id
            )
    ),

    model_recs as (
        select
            user_id,
            item_id,
            score,
            $source as source,
            row_number() over (partition by user_id order by score desc, item_id) as rank
        from unseen_candidates
        qualify rank <= $k
    ),

    cold_users as (
        select distinct e.user_id
        from events as e
        where not exists (select 1 from user_candidates as c where c.user_id = e.user_id)
    ),

    popular as (
        select item_id, train_count
        from items
        order by train_count desc, item_id
        limit $k + $max_seen
    ),

    popular_recs as (
        select
            u.user_id,
            p.item_id,
            cast(p.train_count as double) as score,
            'popularity' as source,
            row_number() over (
                partition by u.user_id order by p.train_count desc, p.item_id
            ) as rank
        from cold_users as u
        cross join popular as p
        where
            not $exclude_seen
            or not exists (
                select 1 from seen as s
                where s.user_id = u.user_id and s.item_id = p.item_id
            )
        qualify rank <= $k
    ),

    final as (
        select user_id, cast(rank as integer) as rank, item_id, score, source
        from model_recs
        union all
        select user_id, cast(rank as integer) as rank, item_id, score, source
        from popular_recs
    )

    select * from final order by user_id, rank
) to $path (format parquet, compression zstd)
