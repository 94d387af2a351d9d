-- Each item's count of events that passed every rule before the rare-item rule, as of the
-- last extract run (the count that rule compared): the next run finds the items whose
-- verdict it flips against these, including counts of rows deleted since.
create table if not exists wh_item_counts (
    item_id varchar,
    events bigint
)
