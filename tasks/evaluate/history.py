"""Every evaluated run's metrics in DATA_DIR/warehouse.duckdb (`run_metrics`), refused runs
included: the history the trend of runs is read from outside any one run folder."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from recsys import sqlrun
from recsys.warehouse import open_warehouse


def record_history(data_dir: Path, run_id: str, metrics: dict) -> int:
    """Replace this run's rows of `run_metrics` (a retry writes them once); returns how many.

    DuckDB allows one writing process per file: the warehouse is opened only for this write
    and a concurrent writer is waited for (`recsys.warehouse.open_warehouse`)."""
    passed = metrics["gate"]["passed"]
    # The session task's sources are prefixed, so both tasks share one table.
    tasks = (("", metrics["models"]), ("session:", metrics.get("session_models") or {}))
    rows = [
        (prefix + source, name, float(value))
        for prefix, models in tasks
        for source, values in models.items()
        for name, value in values.items()
        if value is not None
    ]
    table = pa.table(
        {
            "run_id": [run_id] * len(rows),
            "evaluated_at": [datetime.now(UTC)] * len(rows),
            "source": [r[0] for r in rows],
            "metric": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "gate_passed": [passed] * len(rows),
        }
    )
    with open_warehouse(data_dir, attempts=5) as con:
        con.register("new_metrics", table)
        con.begin()
        sqlrun.run(con, "warehouse/run_metrics_delete", {"run_id": run_id})
        sqlrun.run(con, "warehouse/run_metrics_insert")
        con.commit()
    return len(rows)
