-- Newest parsed timestamp of the input before any cleaning rule. An extraction is reused
-- on a later run only if no row was cut by the "future" bound (which moves with the clock).
with typed as (
    select ts from typed_events
),

final as (
    select max(ts) as max_input_ts from typed
)

select * from final
