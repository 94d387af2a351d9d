"""Prefect flows: the end-to-end pipeline."""
