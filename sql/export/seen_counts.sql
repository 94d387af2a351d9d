-- How many distinct items each user has seen (extract/user_items): the search depth needed
-- to still have K unseen items after filtering (users in [$lo, $hi), NULL = unbounded).
select user_id, count(*) as seen
from user_items
where
    (cast($lo as varchar) is null or user_id >= cast($lo as varchar))
    and (cast($hi as varchar) is null or user_id < cast($hi as varchar))
group by user_id
order by user_id
