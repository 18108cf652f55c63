"""The request boundary: one transaction per request.

`TransactionalRoute` opens a session before the endpoint runs and, after it returns, commits
when the response is a success of a writing method and rolls back otherwise (errors included).
The commit happens before the response leaves, so a client never sees a success that was not
stored. Endpoints and services only flush. Idempotency-Key claims join the same transaction.

Endpoints are plain `def` functions; `kit.blocking` places their database work (ADR 0003).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from typing import Any, get_type_hints

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.responses import Response

from naadloos.kit.blocking import place_database_work, run_db
from naadloos.kit.db import Database
from naadloos.kit.idempotency import Claim, IdempotentReplay, idempotency

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declare on every POST that creates something: `@router.post(..., dependencies=[IDEMPOTENT])`.
IDEMPOTENT = Depends(idempotency)


def _placed(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a plain `def` endpoint into one that `run_db` places; the signature is kept for
    FastAPI's dependency injection (without `__wrapped__`, so FastAPI sees a coroutine)."""

    async def placed(*args: Any, **kwargs: Any) -> Any:
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

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        writes = self.request_writes and not set(self.methods or ()) <= READ_METHODS

        async def route_handler(request: Request) -> Response:
            db: Database = request.app.state.db
            place_database_work(db)
            session = db.session(write=writes)
            request.state.session = session
            try:
                response = await handler(request)
            except IdempotentReplay as replay:
                await run_db(_finish, session, False, None, None)
                return replay.response()
            except BaseException:
                await run_db(_finish, session, False, None, None)
                raise
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
