"""The HTTP API (FastAPI): routes, request limits, error shapes. See docs/serving.md.

    GET  /similar/{item_id}?k=N&exclude=ID     an item's neighbours (live, never itself)
    GET  /recommend/{user_id}?k=N&exclude=ID   a user's exported list (unknown: popularity)
    POST /recommend {"items", "k", "exclude"}  live recall for a session, oldest item first
    GET  /health, /ready, /metrics             liveness, a verified model loaded, Prometheus
    GET  /runs/{run_id}/report[/{image}]        a kept run's HTML report, read-only
    GET  /docs                                 OpenAPI

Every JSON answer carries `run_id` (null before a model is loaded). The handlers are
`async` and answer inline on the event loop: an answer is about a millisecond of numpy and
FAISS, and a hop to a worker thread would add to it without adding a core (the GIL). They
read their parameters through `requests.Requests` (see there why not FastAPI's).
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect

from recsys.serve import recall
from recsys.serve.limits import BodyLimit, Limits
from recsys.serve.metrics import Metrics, MetricsMiddleware
from recsys.serve.reports import report_routes
from recsys.serve.requests import Malformed, Requests, explain
from recsys.serve.swap import ModelHolder

# nginx's "client closed request": what /metrics counts for a body the client abandoned.
CLIENT_CLOSED = 499


def json_answer(content: dict, status: int = 200, headers: dict | None = None) -> Response:
    return Response(
        orjson.dumps(content), status_code=status, media_type="application/json", headers=headers
    )


class AnyText(Convertor):
    """A path id as sent, every character included. Starlette's `path` convertor is `.*`,
    whose dot stops at a newline, and its `$` matches before a final newline: `/similar/a%0A`
    was answered as item 'a'. Ids are compared exactly, so the id must be exactly what
    came."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("any_text", AnyText())


class Item(BaseModel):
    item_id: str
    rank: int = Field(description="1 = best")
    score: float = Field(description="fused score (or the exported list's score)")
    source: str = Field(description="the channels that listed it, e.g. item2vec+sr, popularity")


class SessionItem(Item):
    because: str | None = Field(
        description="the given item that contributed most to the score (null: popularity)"
    )


class SimilarAnswer(BaseModel):
    run_id: str
    item_id: str
    items: list[Item]


class UserAnswer(BaseModel):
    run_id: str
    user_id: str
    items: list[Item]


class SessionAnswer(BaseModel):
    run_id: str
    items: list[SessionItem]
    unknown: list[str] = Field(description="given ids the model does not know")


class Problem(BaseModel):
    detail: str
    run_id: str | None


def create_app(holder: ModelHolder, metrics: Metrics, limits: Limits | None = None) -> FastAPI:
    """The app over `holder`'s model; its lifespan starts and stops the swap watcher."""
    checks = Requests(limits or Limits())

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder.start()
        yield
        holder.stop()

    app = FastAPI(
        title="recsys serve",
        summary="item2vec recommendations from the published run, with hot swaps",
        lifespan=lifespan,
    )
    problems = {404: {"model": Problem}, 422: {"model": Problem}, 503: {"model": Problem}}

    def served_id() -> str | None:
        model = holder.model
        return model.run_id if model else None

    app.state.served_id = served_id  # the 431 of an oversized head names it too (server.py)

    def unavailable() -> Response:
        return json_answer({"detail": "no verified model loaded yet", "run_id": None}, 503)

    @app.get(
        "/similar/{item_id:any_text}",
        response_model=SimilarAnswer,
        responses=problems,
        openapi_extra=checks.openapi_list("item_id", "the item"),
    )
    async def similar(request: Request) -> Response:
        """The item's k nearest items under the run's fused scoring and rules, never the
        item itself; an item without a vector answers its exported fallback list."""
        asked = checks.listing(request, "item_id")
        model = holder.model  # taken once: the whole answer comes from this run
        if model is None:
            return unavailable()
        items = recall.similar(model, asked.id, asked.k, asked.exclude)
        if items is None:
            detail = f"item '{asked.id}' is not in run {model.run_id}"
            return json_answer({"detail": detail, "run_id": model.run_id}, 404)
        return json_answer({"run_id": model.run_id, "item_id": asked.id, "items": items})

    @app.get(
        "/recommend/{user_id:any_text}",
        response_model=UserAnswer,
        responses=problems,
        openapi_extra=checks.openapi_list("user_id", "the user"),
    )
    async def recommend_user(request: Request) -> Response:
        """The user's exported recommendations; an unknown user gets the most popular items
        (`source: popularity`); a known user with nothing left to recommend (every item
        seen or ruled out by the export's rules) an empty list."""
        asked = checks.listing(request, "user_id")
        model = holder.model
        if model is None:
            return unavailable()
        items = recall.user(model, asked.id, asked.k, asked.exclude)
        return json_answer({"run_id": model.run_id, "user_id": asked.id, "items": items})

    @app.post(
        "/recommend",
        response_model=SessionAnswer,
        responses=problems,
        openapi_extra=checks.openapi_session(),
    )
    async def recommend_session(request: Request) -> Response:
        """Live recall for a session (items oldest first): never one of its items or of
        `exclude`; `because` names the given item behind each recommendation."""
        if request.query_params:  # the GET routes refuse unknown parameters; so does this one
            unknown = ", ".join(sorted(set(request.query_params)))
            raise Malformed(f"query: unknown parameter(s) {unknown}; k and exclude go in the body")
        seconds = checks.limits.body_seconds
        try:
            body = await asyncio.wait_for(request.body(), seconds)
        except ClientDisconnect:  # the client left mid-body: not a server error
            return Response(status_code=CLIENT_CLOSED)
        except TimeoutError:
            detail = f"request body not received within {seconds:g} s"
            answer = {"detail": detail, "run_id": served_id()}
            return json_answer(answer, 408, {"Connection": "close"})
        asked = checks.session(body)
        model = holder.model
        if model is None:
            return unavailable()
        items, unknown = recall.session(model, asked.items, asked.k, asked.exclude)
        return json_answer({"run_id": model.run_id, "items": items, "unknown": unknown})

    # HEAD too: load balancers and uptime checks probe with it (the body is not sent). Kept
    # out of the OpenAPI document: one operation per path there, not two with the same id.
    @app.get("/health")
    @app.head("/health", include_in_schema=False)
    async def health() -> Response:
        """200 while the process runs."""
        return json_answer({"status": "ok", "run_id": served_id()})

    @app.get("/ready", responses={503: {"model": Problem}})
    @app.head("/ready", include_in_schema=False)
    async def ready() -> Response:
        """200 once a verified model is loaded, 503 before."""
        model = holder.model
        if model is None:
            return unavailable()
        return json_answer({"run_id": model.run_id, "items": model.n_items})

    @app.get("/metrics")
    async def prometheus() -> Response:
        """Prometheus text format."""
        return Response(metrics.text(), media_type=metrics.content_type)

    report_routes(app, holder.data_dir)

    @app.exception_handler(Malformed)
    async def malformed(request: Request, exc: Malformed) -> Response:
        return json_answer({"detail": exc.detail, "run_id": served_id()}, 422)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        return json_answer({"detail": explain(list(exc.errors())), "run_id": served_id()}, 422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        content = {"detail": str(exc.detail), "run_id": served_id()}
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:  # `Allow` lists every route of the path, not only the first
            path = request.url.path
            methods = {m for r in app.routes if r.path_regex.match(path) for m in r.methods or ()}
            headers["Allow"] = ", ".join(sorted(methods))
        return json_answer(content, exc.status_code, headers or None)

    app.add_middleware(BodyLimit, max_bytes=checks.limits.max_body_bytes, run_id=served_id)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
