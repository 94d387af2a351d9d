-- A full run counts every item itself: no stored counts to add.
create or replace temp table prior_item_counts (item_id varchar, events bigint)
