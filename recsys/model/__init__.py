"""A trained model and the published runs that hold one.

embedding.py   Embedding: input/output vectors and the item ids of their rows
index.py       FAISS: the scorings, exact and approximate indexes, recall tuning
store.py       the published-run store: manifests (and their migration), verified
               loading, the atomic switch of `current`, rollback, retention
queries.py     `similar` and `recommend` against the published run
"""
