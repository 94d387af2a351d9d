-- User-list candidates: the model's items for each placed user (`user_candidates`, the ANN
-- hits of the user's vector), anchored on the user's latest item; scores as doubles, like
-- the popularity fallback's that export/fallback.sql appends for the users export/user_cold
-- lists.
create or replace temp table candidates as
with model as (
    select c.user_id as list_id, v.item_id, c.score
    from user_candidates as c
    inner join vocab as v on c.item_row = v.row
),

final as (
    select
        m.list_id,
        a.item_id as anchor_id,
        m.item_id,
        cast(m.score as double) as score,
        $source as source
    from model as m
    inner join user_anchors as a on m.list_id = a.user_id
)

select * from final
