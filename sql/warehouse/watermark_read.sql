-- The current watermark, and whether any stored row carries a session id (then sessions
-- come from that column, as when the input files have it).
with watermark as (
    select max_ts, rows from wh_watermark
),

session_refs as (
    select count(session_ref) > 0 as has_session_ref from wh_events
),

final as (
    select w.max_ts, w.rows, s.has_session_ref
    from watermark as w
    cross join session_refs as s
)

select * from final
