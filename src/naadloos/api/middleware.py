"""Per-request context: a request id (taken from `X-Request-ID` or made), an access log line and
Prometheus metrics. Pure ASGI, so it adds microseconds, not a task per request."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from naadloos.kit import metrics
from naadloos.kit.logs import request_id

log = logging.getLogger("naadloos.access")
_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _VALID_ID.match(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append((b"x-request-id", rid.encode()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            route = scope.get("route")
            template = getattr(route, "path", None) or "unmatched"
            method = scope["method"]
            metrics.HTTP_REQUESTS.labels(method, template, str(status)).inc()
            metrics.HTTP_DURATION.labels(method, template).observe(elapsed)
            log.info(
                "%s %s %d",
                method,
                scope["path"],
                status,
                extra={
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 2),
                    "route": template,
                },
            )
            request_id.reset(token)
