-- The model's neighbour lists (computed by FAISS, registered as `model_neighbours`).
insert into candidates
select $source as source, query_id, rank, item_id
from model_neighbours
