-- Users the model cannot place (no known item among their events): they get the popularity
-- fallback (export/fallback.sql), anchored on their latest item.
create or replace temp table cold_lists as
with anchors as (
    select user_id, item_id from user_anchors
),

final as (
    select
        a.user_id as list_id,
        a.item_id as anchor_id
    from anchors as a
    where a.user_id not in (select user_id from user_candidates)
)

select * from final
