"""The notification hook posts run outcomes to a webhook (a local HTTP receiver here)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from helpers import FAST, events_csv, run_cli


@pytest.fixture
def receiver(monkeypatch):
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["content-length"]))
            received.append(json.loads(body))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("RECSYS_NOTIFY_URL", f"http://127.0.0.1:{server.server_port}/hook")
    yield received
    server.shutdown()


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_failure_and_success_are_posted(tmp_path, planted_events, receiver):
    bad = events_csv(tmp_path / "bad.csv", [("u1", None, 1_700_000_000)])
    assert run_cli("run", "--events", bad, "--data-dir", tmp_path / "d", *FAST) == 3
    assert receiver[-1]["state"] == "Failed"
    assert receiver[-1]["flow"] == "item2vec-pipeline"
    assert "data quality failed" in receiver[-1]["message"]
    assert run_cli("run", "--events", planted_events, "--data-dir", tmp_path / "d", *FAST) == 0
    assert receiver[-1]["state"] == "Completed"


@pytest.mark.prefect
@pytest.mark.usefixtures("prefect_api")
def test_a_dead_webhook_does_not_fail_the_run(tmp_path, planted_events, monkeypatch):
    monkeypatch.setenv("RECSYS_NOTIFY_URL", "http://127.0.0.1:9/nothing-listens-here")
    assert run_cli("run", "--events", planted_events, "--data-dir", tmp_path / "d", *FAST) == 0
