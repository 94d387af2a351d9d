-- sessionized_events: the kept, non-repeat rows of typed_events with their session key and
-- position (`seq`), as extract/split reads them. A view: the rows are stored once, in
-- typed_events.
create or replace view sessionized_events as
with typed as (
    select * from typed_events
),

final as (
    -- the session columns, without the tags and raw values only the quality stage reads
    select * exclude (ts_text, session_ref, type_kept, is_duplicate, drop_rule)
    from typed
    where seq is not null
)

select * from final
