-- `vsknn_sessions` with the items coded (`vsknn_codes`).
select s.session, c.code, s.started
from vsknn_sessions as s
inner join vsknn_codes as c on s.item_id = c.item_id
