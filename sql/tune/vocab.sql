-- Tokens of the validation stage with their item ids and full-corpus counts.
select cast(token as varchar) as token, item_id, train_count from items order by token
