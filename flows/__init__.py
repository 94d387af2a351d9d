"""Prefect flows, one per file: they resolve the configuration and wire the stage tasks."""
