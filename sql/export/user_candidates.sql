-- User-list candidates: the fused channels' items for each placed user (`user_candidates`,
-- queried with the user's recent items), anchored on the user's latest item; scores as
-- doubles, like the popularity fallback's that export/fallback.sql appends for the users
-- export/user_cold lists. `pos` is the fused rank (ties keep fusion's order).
create or replace temp table candidates as
with fused as (
    select c.user_id as list_id, v.item_id, c.score, c.pos, c.source
    from user_candidates as c
    inner join vocab as v on c.item_row = v.row
),

final as (
    select
        f.list_id,
        a.item_id as anchor_id,
        f.item_id,
        cast(f.score as double) as score,
        f.pos,
        f.source
    from fused as f
    inner join user_anchors as a on f.list_id = a.user_id
)

select * from final
