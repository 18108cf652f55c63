"""The request boundary: one transaction per request.

`TransactionalRoute` opens a session before the endpoint runs and, after it returns, commits
when the response is a success of a writing method and rolls back otherwise (errors included).
The commit happens before the response leaves, so a client never sees a success that was not
stored. A writing endpoint that returns (errors raise) commits right after it, in the same
call (one thread hop on PostgreSQL); with an Idempotency-Key the commit waits for the
response, which it stores. Endpoints and services only flush. Idempotency-Key claims join the
same transaction.

Endpoints are plain `def` functions; `kit.blocking` places their database work (ADR 0003).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, get_type_hints

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette._utils import get_route_path
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from naadloos.kit.blocking import place_database_work, run_db
from naadloos.kit.db import Database
from naadloos.kit.idempotency import Claim, IdempotentReplay, idempotency

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declare on every POST that creates something: `@router.post(..., dependencies=[IDEMPOTENT])`.
IDEMPOTENT = Depends(idempotency)


@dataclass(slots=True)
class _Unit:
    """The request's unit of work, as the endpoint's wrapper sees it."""

    session: Session
    writes: bool
    state: Any  # the request's state: an Idempotency-Key claim is kept there
    finished: bool = False


_unit: ContextVar[_Unit | None] = ContextVar("naadloos_request_unit", default=None)


def _run_and_commit(unit: _Unit, endpoint: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The endpoint, then the commit, on the same thread: one hop for a PostgreSQL write.
    An endpoint that returns has succeeded (errors raise), so its work is committed here; the
    response is built after, from what was committed."""
    result = endpoint(*args, **kwargs)
    _finish(unit.session, True, None, None)
    unit.finished = True
    return result


def _placed(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a plain `def` endpoint into one that `run_db` places; the signature is kept for
    FastAPI's dependency injection (without `__wrapped__`, so FastAPI sees a coroutine)."""

    async def placed(*args: Any, **kwargs: Any) -> Any:
        unit = _unit.get()
        # A write without an Idempotency-Key claim commits as soon as the endpoint returns; a
        # claim stores the response, so that commit waits for the response to exist.
        if (
            unit is not None
            and unit.writes
            and getattr(unit.state, "idempotency_claim", None) is None
        ):
            return await run_db(_run_and_commit, unit, endpoint, *args, **kwargs)
        return await run_db(endpoint, *args, **kwargs)

    placed.__signature__ = inspect.signature(endpoint, eval_str=True)  # type: ignore[attr-defined]
    placed.__name__ = endpoint.__name__
    placed.__qualname__ = endpoint.__qualname__
    placed.__doc__ = endpoint.__doc__
    placed.__module__ = endpoint.__module__
    placed.__annotations__ = get_type_hints(endpoint, include_extras=True)
    return placed


async def get_session(request: Request) -> Session:
    """The request's session (opened by `TransactionalRoute`)."""
    session: Session = request.state.session
    return session


def _finish(session: Session, commit: bool, claim: Claim | None, response: Response | None) -> None:
    try:
        if commit:
            if claim is not None and response is not None:
                claim.complete(session, response)
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


class TransactionalRoute(APIRoute):
    # False for endpoints that write in units of work of their own (`OwnTransactionsRoute`).
    request_writes = True

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if not inspect.iscoroutinefunction(endpoint):
            endpoint = _placed(endpoint)
        super().__init__(path, endpoint, **kwargs)
        self._head = self.path_format.partition("{")[0]  # the path's literal beginning

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """A request is matched against the routes in their order, some 45 before the
        busiest; a path that does not begin with this route's literal beginning cannot match
        its regular expression, and is refused without it (and without FastAPI's work around
        it): 2.87M -> 2.69M instructions a reservation. tests/api/test_routing.py holds every
        route's answer to FastAPI's."""
        if scope["type"] == "http" and not get_route_path(scope).startswith(self._head):
            return Match.NONE, {}
        return super().matches(scope)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        writes = self.request_writes and not set(self.methods or ()) <= READ_METHODS

        async def route_handler(request: Request) -> Response:
            db: Database = request.app.state.db
            place_database_work(db)
            session = db.request_session(write=writes)
            request.state.session = session
            unit = _Unit(session, writes, request.state)
            token = _unit.set(unit)
            try:
                response = await handler(request)
            except IdempotentReplay as replay:
                await run_db(_finish, session, False, None, None)
                return replay.response()
            except BaseException:
                if not unit.finished:
                    await run_db(_finish, session, False, None, None)
                raise
            finally:
                _unit.reset(token)
            if unit.finished:
                return response
            commit = writes and response.status_code < 400
            claim: Claim | None = getattr(request.state, "idempotency_claim", None)
            if commit or session.in_transaction():
                await run_db(_finish, session, commit, claim, response)
            else:
                session.close()
            return response

        return route_handler


class OwnTransactionsRoute(TransactionalRoute):
    """For an endpoint that calls another system (a payment provider) between its writes: the
    request's session only reads (the API key); the endpoint commits units of work of its own
    before and after the call, so no lock is held while the other system answers."""

    request_writes = False
