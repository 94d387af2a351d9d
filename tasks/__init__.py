"""One module per pipeline stage: plain functions doing the work, plus a thin Prefect task."""
