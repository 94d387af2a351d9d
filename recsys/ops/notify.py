"""Run notifications: a flow-state hook that POSTs a JSON summary to a webhook.

Point `RECSYS_NOTIFY_URL` at any endpoint that accepts JSON (a Slack/Teams incoming
webhook relay, an alerting gateway, a local receiver in tests). Delivery failures are
logged, never raised: a broken webhook must not fail a run that otherwise succeeded. For
e-mail or chat without code, a Prefect Automation on the flow's Failed state does the same
server-side (see docs/operations.md).
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from recsys import redact
from recsys.stage import logger

ENV = "RECSYS_NOTIFY_URL"


def payload(flow: Any, flow_run: Any, state: Any) -> dict[str, Any]:
    return {
        "flow": flow.name,
        "flow_run": flow_run.name,
        "flow_run_id": str(flow_run.id),
        "state": state.name,
        "message": state.message or "",
        "data_dir": (flow_run.parameters or {}).get("data_dir"),
    }


def post(url: str, body: dict[str, Any], timeout: float = 10.0) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


def notify_hook(flow: Any, flow_run: Any, state: Any) -> None:
    """Prefect on_completion/on_failure hook; does nothing unless RECSYS_NOTIFY_URL is set."""
    url = os.environ.get(ENV)
    if not url:
        return
    try:
        post(url, payload(flow, flow_run, state))
    except Exception as exc:  # never let a notification failure change the run's outcome
        # The URL is a secret (a webhook's token is its path): only scheme and host are
        # logged, to the console and to Prefect's database alike.
        reason = redact.text(str(exc), keep_path=False)
        logger().warning("notification to %s failed: %s", redact.url(url, keep_path=False), reason)
