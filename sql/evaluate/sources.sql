-- Sources that produced at least one list (a source without hits still scores 0).
select distinct source from {{lists}} order by source
