-- The warehouse export as typed rows (extract_typed's columns) with the stored results of
-- the last run (tasks/extract_affected.py); extract_typed_stored / extract_typed_affected
-- make them (all, or the recomputed users') the rows extract_rows reads.
create or replace temp table warehouse_rows as
with stored as (
    select * from read_parquet($path)
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
