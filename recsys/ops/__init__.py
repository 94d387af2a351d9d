"""Operating the pipeline: what never changes a result.

locks.py       Prefect global concurrency limits around single-writer files
notify.py      the webhook hook of every flow
interrupt.py   a stage in a child process killed at its time budget
scaleout.py    the task runner (threads or Dask) and id-range shards
signals.py     SIGTERM/SIGINT noted before DuckDB can turn them into query errors
"""
