-- The session task's lists, one per case and source (`query_id` = the case).
create or replace temp table session_candidates (
    source varchar,
    query_id varchar,
    rank bigint,
    item_id varchar,
    score double
)
