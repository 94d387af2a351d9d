-- Rows each business rule removed from the current lists (for the export artifact).
select removed_by as rule, count(*) as removed
from flagged
where removed_by is not null
group by removed_by
order by removed_by
