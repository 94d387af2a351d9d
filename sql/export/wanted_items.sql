-- The items whose count-channel lists the export needs: every item of every split (the
-- served model was refit on all of them).
create or replace temp table wanted_items as
select distinct item_id from events
