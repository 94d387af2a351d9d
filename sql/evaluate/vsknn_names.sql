-- The item id of every `vsknn_codes` code, in code order.
select item_id from vsknn_codes order by code
