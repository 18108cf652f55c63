"""One error hierarchy. Each error carries an HTTP status and a stable machine `code`; the API
renders it as RFC 9457 problem+json (see `kit.problems`). Domain modules subclass these next to
their services."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar


class NaadloosError(Exception):
    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"
    title: ClassVar[str] = "Internal error"
    headers: ClassVar[Mapping[str, str]] = {}

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra: dict[str, Any] = extra

    def problem(self) -> dict[str, Any]:
        return problem_body(self.status, self.code, self.title, self.detail, self.extra)


class BadRequest(NaadloosError):
    status = 400
    code = "bad_request"
    title = "Bad request"


class MalformedJson(BadRequest):
    code = "malformed_json"
    title = "Malformed JSON"


class FieldError:
    """One invalid field: `field` is a dotted path such as `body.capabilities.1`."""

    __slots__ = ("field", "message")

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


class ValidationFailed(NaadloosError):
    status = 422
    code = "validation_failed"
    title = "Invalid input"

    def __init__(self, errors: Sequence[FieldError], detail: str | None = None) -> None:
        if detail is None:
            detail = "; ".join(f"{e.field}: {e.message}" for e in errors)
        super().__init__(detail, errors=[e.as_dict() for e in errors])

    @classmethod
    def field(cls, field: str, message: str) -> ValidationFailed:
        return cls([FieldError(field, message)])


class Unauthorized(NaadloosError):
    status = 401
    code = "unauthorized"
    title = "Missing or invalid API key"
    headers: ClassVar[Mapping[str, str]] = {"WWW-Authenticate": 'Bearer realm="naadloos"'}


class Forbidden(NaadloosError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class MissingScope(Forbidden):
    code = "missing_scope"
    title = "The API key lacks a scope"


class NotFound(NaadloosError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(NaadloosError):
    status = 409
    code = "conflict"
    title = "Conflict"


class AlreadyExists(Conflict):
    code = "already_exists"
    title = "Already exists"


class IdempotencyKeyReused(NaadloosError):
    status = 422
    code = "idempotency_key_reused"
    title = "Idempotency key reused with a different request"


class ServiceUnavailable(NaadloosError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


def problem_body(
    status: int, code: str, title: str, detail: str, extra: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:naadloos:problem:{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if extra:
        # Details never overwrite the standard members (a `status` detail is not the status).
        body.update({k: v for k, v in extra.items() if k not in body})
    return body
