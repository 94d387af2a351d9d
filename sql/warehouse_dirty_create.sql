-- Users whose warehouse rows changed (inserted, replaced or deleted) since their stored
-- results were computed; `batch` names the ingest that marked them, so a stage clears only
-- the marks it has seen (a concurrent ingest's marks stay).
create table if not exists wh_dirty (
    user_id varchar,
    batch varchar
)
