-- valid_events: the usable rows of typed_events with their cleaning-rule tag (drop_rule NULL
-- = kept); what the quality stage profiles duplicates and item shares from. A view: the
-- rows are stored once, in typed_events.
create or replace view valid_events as
with typed as (
    select * from typed_events
),

final as (
    select * exclude (ts_text, seq, session_key)
    from typed
    where drop_rule is distinct from 'invalid'
)

select * from final
