-- The watermark is one row: cleared before warehouse_watermark inserts the new one.
delete from wh_watermark
