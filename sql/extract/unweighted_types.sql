-- The event types extract.event_type_weights names that no usable event of the input has:
-- a misspelt type ('purchse') would otherwise weigh nothing, without a word.
with configured as (
    select unnest($weight_types::varchar []) as event_type
),

present as (
    select distinct event_type
    from valid_events
    where event_type is not null
),

final as (
    select c.event_type
    from configured as c
    anti join present as p on c.event_type = p.event_type
    order by c.event_type
)

select * from final
