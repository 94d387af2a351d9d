-- Paired hit counts at cut-off $k between the source $model and every other source of
-- {{lists}}: the cases only the model hit and the cases only the other source hit. The
-- gate reads the difference of two sources on the same cases with its standard error
-- (cases both hit or both missed do not move it).
with hit as (
    select source, pair_id from {{hits}} where hit_rank <= $k
),

model as (
    select pair_id from hit where source = $model
),

others as (
    select source, pair_id from hit where source <> $model
),

sources as (
    select distinct source from {{lists}} where source <> $model
),

model_by_source as (
    select s.source, m.pair_id from sources as s cross join model as m
),

only_model as (
    select g.source, count(*) as n
    from model_by_source as g
    anti join others as o on o.source = g.source and o.pair_id = g.pair_id
    group by all
),

only_source as (
    select o.source, count(*) as n
    from others as o
    anti join model as m on m.pair_id = o.pair_id
    group by all
),

final as (
    select s.source, coalesce(a.n, 0) as only_model, coalesce(b.n, 0) as only_source
    from sources as s
    left join only_model as a on s.source = a.source
    left join only_source as b on s.source = b.source
)

select * from final order by source
