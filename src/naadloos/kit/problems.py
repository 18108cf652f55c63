"""Every error leaves the API as RFC 9457 problem+json with a stable `code`."""

from __future__ import annotations

import logging
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from sqlalchemy.exc import IntegrityError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse

from naadloos.kit.errors import NaadloosError, problem_body

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class FieldProblem(BaseModel):
    field: str = Field(examples=["body.kind"])
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, with a stable machine `code`."""

    type: str = Field(examples=["urn:naadloos:problem:validation_failed"])
    title: str
    status: int
    code: str = Field(examples=["validation_failed"])
    detail: str
    errors: list[FieldProblem] | None = Field(
        default=None, description="Each invalid field, for `validation_failed`"
    )


def _doc(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/Problem"}
    return {
        "model": Problem,
        "description": description,
        "content": {PROBLEM_JSON: {"schema": schema}},
    }


# Published on every /v1 router, so clients see one error shape in the OpenAPI document.
RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _doc("Malformed request (`malformed_json`, ...)"),
    401: _doc("No or invalid API key (`unauthorized`)"),
    403: _doc("The key lacks the scope (`missing_scope`, with `required_scope`)"),
    404: _doc("Not found"),
    409: _doc("Conflicts with what exists"),
    422: _doc("Invalid input (`validation_failed`, each field named in `errors`)"),
}

_HTTP_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Unauthorized"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
}


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(body, status_code=body["status"], media_type=PROBLEM_JSON, headers=headers)


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


async def _naadloos_error(_request: Request, exc: Exception) -> JSONResponse:
    exc = cast(NaadloosError, exc)
    if exc.status >= 500:
        log.error("request failed: %s", exc.detail, extra={"code": exc.code})
    return problem_response(exc.problem(), dict(exc.headers))


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    exc = cast(RequestValidationError, exc)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        first = next(e for e in errors if e.get("type") == "json_invalid")
        where = first.get("ctx", {}).get("error", "")
        body = problem_body(
            400, "malformed_json", "Malformed JSON", f"the request body is not valid JSON: {where}"
        )
        return problem_response(body)
    fields = [{"field": _field(tuple(e["loc"])), "message": e["msg"]} for e in errors]
    detail = "; ".join(f"{f['field']}: {f['message']}" for f in fields)
    body = problem_body(422, "validation_failed", "Invalid input", detail, {"errors": fields})
    return problem_response(body)


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    exc = cast(StarletteHTTPException, exc)
    code, title = _HTTP_CODES.get(exc.status_code, ("http_error", "HTTP error"))
    body = problem_body(exc.status_code, code, title, str(exc.detail))
    return problem_response(body, dict(exc.headers or {}))


async def _database_busy(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("database unavailable: %s", exc)
    body = problem_body(
        503, "database_unavailable", "Database unavailable", "the database is busy; retry shortly"
    )
    return problem_response(body, {"Retry-After": "1"})


async def _write_conflict(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("write conflict: %s", exc)
    body = problem_body(
        409,
        "write_conflict",
        "Concurrent change",
        "another request changed the same data at the same moment; retry",
    )
    return problem_response(body, {"Retry-After": "1"})


async def _unexpected(_request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    body = problem_body(500, "internal_error", "Internal error", "an unexpected error occurred")
    return problem_response(body)


def install(app: FastAPI) -> None:
    app.add_exception_handler(NaadloosError, _naadloos_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(OperationalError, _database_busy)
    app.add_exception_handler(IntegrityError, _write_conflict)
    app.add_exception_handler(Exception, _unexpected)
