-- valid_events: the usable rows of typed_events with their cleaning-rule tag (drop_rule NULL
-- = kept); what the quality stage profiles duplicates and item shares from. A view: the
-- rows are stored once, in typed_events.
create or replace view valid_events as
with typed as (
    select * from typed_events
),

final as (
    select
        input_order,
        user_id,
        item_id,
        ts,
        event_type,
        session_ref,
        type_kept,
        is_duplicate,
        drop_rule
    from typed
    where drop_rule is distinct from 'invalid'
)

select * from final
