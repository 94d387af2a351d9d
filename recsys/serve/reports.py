"""Kept runs' HTML reports, served read-only so that the Prefect UI's links open on another
machine: `GET /runs/{run_id}/report` (runs/<run_id>/report.html) and its images
(`GET /runs/{run_id}/report/{name}`, a .png or .svg file of the same folder).

Only folders directly under DATA_DIR/runs/ are served (not work/, not a symlink leading
elsewhere), names are checked against a strict pattern before any path is built, and files
are opened read-only by Starlette's FileResponse with their own content type.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse

from recsys.layout import MANIFEST, REPORT_IMAGES, RUN_REPORT, runs_dir

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}\Z")  # \Z: `$` allows a final newline
TYPES = {".png": "image/png", ".svg": "image/svg+xml"}


def run_file(data_dir: Path, run_id: str, name: str) -> Path:
    """runs/<run_id>/<name>, or HTTPException 404 when either name is not plain, the file
    is not a regular file inside that run folder, or the folder has no manifest."""
    if not NAME.match(run_id) or not NAME.match(name) or ".." in run_id or ".." in name:
        raise HTTPException(404, "no such run file")
    root = runs_dir(data_dir).resolve()
    path = (root / run_id / name).resolve()
    # A folder without a manifest is not a run (an operator's copy, a half-written one).
    if path.parent.parent != root or not path.is_file() or not (path.parent / MANIFEST).is_file():
        raise HTTPException(404, f"no {name} in run {run_id}")
    return path


def report_routes(app: FastAPI, data_dir: Path) -> None:
    """Add the report routes for runs under `data_dir`."""

    @app.get("/runs/{run_id}/report", response_class=FileResponse)
    async def report(run_id: str) -> FileResponse:
        """The run's self-contained HTML report."""
        return FileResponse(run_file(data_dir, run_id, RUN_REPORT), media_type="text/html")

    @app.get("/runs/{run_id}/report/{name}", response_class=FileResponse)
    async def report_image(run_id: str, name: str) -> FileResponse:
        """An image of the run folder (the embedding map)."""
        suffix = Path(name).suffix.lower()
        if suffix not in REPORT_IMAGES:
            raise HTTPException(404, f"{name} is not a report image")
        return FileResponse(run_file(data_dir, run_id, name), media_type=TYPES[suffix])
