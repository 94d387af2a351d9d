-- Ranked candidate lists per query item, one set per source (model, channels, baselines).
create or replace temp table candidates (
    source varchar,
    query_id varchar,
    rank bigint,
    item_id varchar,
    score double
)
