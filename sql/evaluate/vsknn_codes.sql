-- A dense integer code per item of `vsknn_sessions` and of the cases' last $items items
-- (vsknn.py indexes its sparse matrices with them; coding strings in DuckDB is much
-- cheaper than in numpy).
create or replace temp table vsknn_codes as
with named as (
    select item_id from vsknn_sessions
    union
    select item_id from session_prefix where recency < $items
),

final as (
    select item_id, (row_number() over (order by item_id) - 1)::bigint as code
    from named
)

select * from final
