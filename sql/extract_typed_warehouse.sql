-- The warehouse export as typed rows (extract_typed's columns) with the stored results of
-- the last run (tasks/extract_affected.py); extract_typed_stored / extract_typed_affected
-- make them (all, or the recomputed users') the rows extract_rows reads. A view over the
-- Parquet file: each statement reads only the columns it uses, and nothing is copied.
create or replace temp view warehouse_rows as
with stored as (
    select * from read_parquet(getvariable('warehouse_export'))
),

final as (
    select
        input_order,
        user_id,
        item_id,
        ts,
        ts_text,
        event_type,
        session_ref,
        has_result,
        type_kept,
        is_duplicate,
        drop_rule,
        seq,
        session_key
    from stored
)

select * from final
