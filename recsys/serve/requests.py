"""Reading a request's id, query and body into checked values, and their OpenAPI text.

The values are pydantic models validated in one call each. FastAPI's per-parameter
dependency machinery did the same checks for ~0.5 ms a request on this machine (profiled:
`solve_dependencies` was 40% of a `GET /similar`), more than the answer itself; the routes
therefore take the raw request and call `Requests`, and the OpenAPI document is given the
same parameters and body schema by hand (`openapi_list`, `openapi_session`).

A problem raises `Malformed` with one line per field, `where: what` (`query.k: Input
should be less than or equal to 1000`), which the app answers with 422.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints
from pydantic import ValidationError as PydanticError

from recsys.serve.limits import Limits


class Malformed(Exception):
    """A request that does not validate; `detail` says where and what."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def _id_text(value: Any) -> Any:
    """Ids are strings everywhere downstream; a JSON integer id is taken as its text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


def explain(errors: list[dict], where: dict[str, str] | None = None) -> str:
    """One `where: what` per problem; `where` maps a field to its place (path, query)."""
    parts = []
    for error in errors:
        loc = [str(p) for p in error.get("loc", ())]
        if loc and where:
            loc[0] = f"{where.get(loc[0], 'body')}.{loc[0]}"
        parts.append(f"{'.'.join(loc) or 'body'}: {error.get('msg', 'invalid')}")
    return "; ".join(parts) or "malformed request"


def repeated_key(body: bytes) -> str | None:
    """The first key that one object of a JSON body names twice, else None (also for a
    body that is not JSON: the model's parser names that error).

    RFC 8259 leaves a repeated name's meaning open (one parser keeps the first value,
    another the last), so `{"items": [...], "items": [...]}` is refused, not guessed."""
    found: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> None:
        seen: set[str] = set()
        for name, _ in items:
            if name in seen:
                found.append(name)
                return
            seen.add(name)

    try:
        json.loads(body, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None
    return found[0] if found else None


class Requests:
    """The checks of one app's requests under its `Limits`."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        Id = Annotated[
            str,
            StringConstraints(min_length=1, max_length=limits.max_id_chars),
            BeforeValidator(_id_text),
        ]

        class ListRequest(BaseModel):
            model_config = ConfigDict(extra="forbid")
            id: Id
            k: int = Field(10, ge=1, le=limits.max_k)
            exclude: list[Id] = Field([], max_length=limits.max_ids)

        class SessionRequest(BaseModel):
            """A live session: its items oldest first."""

            model_config = ConfigDict(extra="forbid")
            items: list[Id] = Field(
                max_length=limits.max_ids, description="the session's items, oldest first"
            )
            # strict: a JSON body says what it means (true, "7" or 3.0 is not a count)
            k: int = Field(10, ge=1, le=limits.max_k, strict=True, description="how many items")
            exclude: list[Id] = Field(
                [], max_length=limits.max_ids, description="ids never returned"
            )

        self.list_model, self.session_model = ListRequest, SessionRequest

    def listing(self, request, name: str):
        """(id, k, exclude) of a GET list route whose path id is called `name`."""
        query = request.query_params
        values: dict[str, Any] = {"id": request.path_params[name]}
        if "k" in query:
            ks = query.getlist("k")
            if len(ks) > 1:  # which one was meant is a guess
                raise Malformed(f"query.k: given {len(ks)} times, give it once")
            values["k"] = ks[0]
        if "exclude" in query:
            values["exclude"] = query.getlist("exclude")
        unknown = set(query) - {"k", "exclude"}
        if unknown:
            raise Malformed(f"query: unknown parameter(s) {', '.join(sorted(unknown))}")
        try:
            return self.list_model.model_validate(values)
        except PydanticError as exc:
            places = {"id": f"path.{name}", "k": "query.k", "exclude": "query.exclude"}
            raise Malformed(
                explain([{**e, "loc": (places[e["loc"][0]], *e["loc"][1:])} for e in exc.errors()])
            ) from None

    def session(self, body: bytes):
        """The session of a POST /recommend body (JSON)."""
        twice = repeated_key(body)
        if twice is not None:
            raise Malformed(f"body: key {json.dumps(twice[:50])} given twice in one object")
        try:
            return self.session_model.model_validate_json(body)
        except PydanticError as exc:
            errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
            raise Malformed(explain(errors)) from None

    def openapi_list(self, name: str, what: str) -> dict:
        """The OpenAPI parameters of a GET list route."""
        limits = self.limits
        return {
            "parameters": [
                {
                    "name": name,
                    "in": "path",
                    "required": True,
                    "description": what,
                    "schema": {"type": "string", "minLength": 1, "maxLength": limits.max_id_chars},
                },
                {
                    "name": "k",
                    "in": "query",
                    "description": "how many items",
                    "schema": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": limits.max_k,
                        "default": 10,
                    },
                },
                {
                    "name": "exclude",
                    "in": "query",
                    "description": "ids never returned (repeat the parameter)",
                    "schema": {
                        "type": "array",
                        "items": {"type": "string", "maxLength": limits.max_id_chars},
                        "maxItems": limits.max_ids,
                    },
                    "style": "form",
                    "explode": True,
                },
            ]
        }

    def openapi_session(self) -> dict:
        """The OpenAPI request body of POST /recommend."""
        schema = self.session_model.model_json_schema()
        schema["example"] = {"items": ["50", "172", "181"], "k": 10, "exclude": ["1"]}
        return {
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": schema}},
            }
        }
