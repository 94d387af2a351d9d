-- How many distinct items each user has seen: the search depth needed to still have K
-- unseen items after filtering.
select user_id, count(distinct item_id) as seen
from events
group by user_id
order by user_id
