"""Where a run's files live in the data directory.

    DATA_DIR/work/<run_id>/stage.duckdb   the run's private DuckDB (one writer: extract)
    DATA_DIR/work/<run_id>/corpus.txt     training corpus for gensim's corpus_file mode
    DATA_DIR/work/<run_id>/run/           files to publish, assembled while the run goes
    DATA_DIR/runs/<run_id>/               the same folder after a rename, once complete
    DATA_DIR/published/current            symlink to runs/<run_id>, swapped by rename(2)

A folder under runs/ is therefore always complete; a failed run is rolled back to its
reports in work/<run_id>/reports/ and a FAILED note (tasks/rundir.py) and leaves runs/ and
published/ as they were.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel


def new_run_id(now: datetime | None = None) -> str:
    """Sortable, unique run id: UTC time plus a random suffix."""
    now = now or datetime.now(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


class RunPaths(BaseModel):
    """Paths of one run; a small record passed between tasks instead of connections."""

    data_dir: Path
    run_id: str
    stage_override: Path | None = None  # tuning trials read a shared validation stage

    @classmethod
    def new(cls, data_dir: Path | str) -> RunPaths:
        return cls(data_dir=Path(data_dir).resolve(), run_id=new_run_id())

    @property
    def work_dir(self) -> Path:
        return self.data_dir / "work" / self.run_id

    @property
    def stage_db(self) -> Path:
        return self.stage_override or self.work_dir / "stage.duckdb"

    @property
    def corpus(self) -> Path:
        return self.work_dir / "corpus.txt"

    @property
    def out(self) -> Path:
        """The folder being assembled for publishing."""
        return self.work_dir / "run"

    @property
    def final_dir(self) -> Path:
        return runs_dir(self.data_dir) / self.run_id

    def ensure(self) -> RunPaths:
        self.out.mkdir(parents=True, exist_ok=True)
        return self


def runs_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "runs"


def published_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "published"


def current_link(data_dir: Path) -> Path:
    return published_dir(data_dir) / "current"
