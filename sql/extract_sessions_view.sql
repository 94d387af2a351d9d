-- sessionized_events: the kept, non-repeat rows of typed_events with their session key and
-- position (`seq`), as extract_split reads them. A view: the rows are stored once, in
-- typed_events.
create or replace view sessionized_events as
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
        seq,
        session_key
    from typed
    where seq is not null
)

select * from final
