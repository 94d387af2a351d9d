-- Lists computed in Python (FAISS, channel fusion), registered as `model_neighbours`.
insert into {{lists}}
select $source as source, query_id, rank, item_id, score
from model_neighbours
