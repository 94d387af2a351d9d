-- How many distinct items each user has seen: the search depth needed to still have K
-- unseen items after filtering (users in [$lo, $hi), NULL = unbounded).
select user_id, count(distinct item_id) as seen
from events
where
    (cast($lo as varchar) is null or user_id >= cast($lo as varchar))
    and (cast($hi as varchar) is null or user_id < cast($hi as varchar))
group by user_id
order by user_id
