-- An unversioned warehouse's event tables (written before schema version 1), dropped so
-- schema.sql creates them anew; run_metrics, unchanged since, is kept.
drop table if exists wh_events;
drop table if exists wh_files;
drop table if exists wh_watermark;
drop table if exists wh_item_counts;
drop table if exists wh_dirty;
drop table if exists wh_results_state;
