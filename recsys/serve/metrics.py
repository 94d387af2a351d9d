"""The server's Prometheus metrics (prometheus-client, its own registry) and the ASGI
middleware that counts and times every request by its route template.

    recsys_serve_requests_total{method, route, status}   answered requests
    recsys_serve_request_seconds{method, route}          latency histogram (sub-ms buckets)
    recsys_serve_model_info{run_id}                      1 for the run being served
    recsys_serve_model_items                             its catalogue size
    recsys_serve_model_loaded_timestamp_seconds          when it was switched in
    recsys_serve_swaps_total                             runs switched in (the first load too)
    recsys_serve_runs_refused_total                      runs that did not verify or load
    recsys_serve_load_seconds                            verify + load time of a run

The route is the template (`/similar/{item_id:path}`), never the raw path, so ids do not
explode the label set; requests no route matched count as `unmatched`.
"""

from __future__ import annotations

import time

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

# No `*_created` series: they double the output and no dashboard reads them.
disable_created_metrics()

BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class Metrics:
    """One registry per app, so several apps (tests) never share counters."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "recsys_serve_requests", "Answered requests.", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "recsys_serve_request_seconds",
            "Time from request to the end of the answer.",
            ["method", "route"],
            buckets=BUCKETS,
            registry=r,
        )
        self.model = Gauge(
            "recsys_serve_model_info", "1 for the run being served.", ["run_id"], registry=r
        )
        self.items = Gauge("recsys_serve_model_items", "Items of the served model.", registry=r)
        self.loaded = Gauge(
            "recsys_serve_model_loaded_timestamp_seconds",
            "Unix time the served run was switched in.",
            registry=r,
        )
        self.swaps = Counter(
            "recsys_serve_swaps", "Runs switched in (the first load included).", registry=r
        )
        self.refused = Counter(
            "recsys_serve_runs_refused", "Runs refused: not verified or not loadable.", registry=r
        )
        self.load_seconds = Histogram(
            "recsys_serve_load_seconds",
            "Verify + load time of a run.",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=r,
        )

    def served(self, run_id: str, previous: str | None, items: int) -> None:
        """A run was switched in."""
        if previous is not None:
            self.model.remove(previous)
        self.model.labels(run_id=run_id).set(1)
        self.items.set(items)
        self.loaded.set(time.time())
        self.swaps.inc()

    def text(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI (no per-request task or body copy, unlike Starlette's BaseHTTPMiddleware):
    times the request until its last body chunk is sent and counts its status."""

    def __init__(self, app, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 500}

        async def sending(message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or getattr(route, "path", "unmatched")
            method = scope.get("method", "")
            self.metrics.latency.labels(method, template).observe(time.perf_counter() - start)
            self.metrics.requests.labels(method, template, str(status["code"])).inc()
