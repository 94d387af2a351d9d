"""item2vec recommender pipeline orchestrated by Prefect."""

__version__ = "0.1.0"
