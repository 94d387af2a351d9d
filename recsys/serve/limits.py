"""What one request may ask for, and the ASGI guard that refuses oversized bodies (413)
before they are read."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import orjson

from recsys.inputs import MAX_ID_CHARS


@dataclass(frozen=True)
class Limits:
    """Request limits of the server (safe defaults; `recsys serve` takes them as is)."""

    max_k: int = 1000  # items per answer (also never more than the catalogue holds)
    max_id_chars: int = MAX_ID_CHARS  # an item or user id: as long as a run accepts
    max_ids: int = 1000  # ids in a session's `items`, and in `exclude`
    max_body_bytes: int = 256 * 1024  # a POST body; larger is refused with 413 unread
    max_head_bytes: int = 64 * 1024  # request line and headers; larger: 431, closed
    # A POST body not received in this time: 408, closed. Shorter than uvicorn's graceful
    # shutdown (10 s), so a stop with stalled clients ends their requests with an answer,
    # not with 10 s of waiting and a cancelled-task traceback per client.
    body_seconds: float = 5.0


class BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Refuse a request body over `max_bytes` with 413: by its Content-Length before any
    of it is read, or (chunked, no length) as soon as the bytes received pass the limit."""

    def __init__(self, app, max_bytes: int, run_id: Callable[[], str | None] = lambda: None):
        self.app, self.max_bytes, self.run_id = app, max_bytes, run_id

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope.get("headers") or ()).get(b"content-length")
        if length is not None:
            length = length.strip(b" \t")  # whitespace around a field value is legal
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        seen = {"bytes": 0, "started": False}

        async def receiving():
            message = await receive()
            if message["type"] == "http.request":
                seen["bytes"] += len(message.get("body", b""))
                if seen["bytes"] > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def sending(message) -> None:
            seen["started"] = seen["started"] or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receiving if length is None else receive, sending)
        except BodyTooLarge:
            if not seen["started"]:
                await self._refuse(send)

    async def _refuse(self, send) -> None:
        detail = f"request body over {self.max_bytes} bytes"
        body = orjson.dumps({"detail": detail, "run_id": self.run_id()})
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def bounded_head_protocol(max_head_bytes: int, run_id: Callable[[], str | None] = lambda: None):
    """uvicorn's httptools protocol with a bound on a request's head (request line and
    headers): past `max_head_bytes` the client gets 431 (`{"detail", "run_id"}`, as every
    JSON answer) and the connection is closed.

    httptools accepts a header of any size and joins its pieces as they arrive, at a cost
    that grows with the square of its length: one client sending a 120 MB header held the
    event loop for 33 s, and every other request waited. (uvicorn's h11 protocol has such a
    bound, `h11_max_incomplete_event_size`; the C parser it prefers has none.)"""
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class BoundedHead(HttpToolsProtocol):
        _head_bytes, _in_head = 0, True  # a connection starts in a request's head

        def data_received(self, data: bytes) -> None:
            if self._in_head:
                end = data.find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else end + 4
                if self._head_bytes > max_head_bytes:
                    self._refuse()
                    return
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._in_head = False
            super().on_headers_complete()

        def on_message_complete(self) -> None:
            self._in_head, self._head_bytes = True, 0  # the next request on this connection
            super().on_message_complete()

        def _refuse(self) -> None:
            detail = f"request head (request line and headers) over {max_head_bytes} bytes"
            body = orjson.dumps({"detail": detail, "run_id": run_id()})
            self.transport.write(
                b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                b"content-type: application/json\r\ncontent-length: %d\r\n"
                b"connection: close\r\n\r\n%s" % (len(body), body)
            )
            self.transport.close()
            self._in_head = False  # nothing more is read from this connection

    return BoundedHead
