"""Operational endpoints for load balancers and monitoring: liveness, readiness, metrics."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from naadloos.kit.errors import ServiceUnavailable
from naadloos.runtime import Runtime, check_schema

log = logging.getLogger(__name__)
router = APIRouter(tags=["operations"])


@router.get("/health")
def health() -> dict[str, str]:
    """The process is alive (it does not look at the database)."""
    return {"status": "ok"}


@router.get("/ready", responses={503: {"description": "The database is unreachable or behind"}})
async def ready(request: Request) -> dict[str, str]:
    """The process can serve: the database answers and its schema matches this code."""
    runtime: Runtime = request.app.state.runtime
    try:
        await run_in_threadpool(runtime.db.ping)
    except SQLAlchemyError as exc:
        log.warning("readiness: database unreachable: %s", exc)
        raise ServiceUnavailable("the database does not answer", check="database") from exc
    await run_in_threadpool(check_schema, runtime)
    return {"status": "ready", "database": runtime.db.dialect}


@router.get("/metrics", response_class=Response, include_in_schema=False)
def metrics() -> Response:
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
