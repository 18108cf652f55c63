"""The request boundary: one transaction per request.

`TransactionalRoute` opens a session before the endpoint runs and, after it returns, commits
when the response is a success of a writing method and rolls back otherwise (errors included).
The commit happens before the response leaves, so a client never sees a success that was not
stored. Endpoints and services only flush. Idempotency-Key claims join the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Depends, Request
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from naadloos.kit.db import Database
from naadloos.kit.idempotency import Claim, IdempotentReplay, idempotency

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declare on every POST that creates something: `@router.post(..., dependencies=[IDEMPOTENT])`.
IDEMPOTENT = Depends(idempotency)


def get_session(request: Request) -> Session:
    """The request's session (opened by `TransactionalRoute`)."""
    session: Session = request.state.session
    return session


def _finish(session: Session, commit: bool, claim: Claim | None, response: Response | None) -> None:
    try:
        if commit:
            if claim is not None and response is not None:
                claim.complete(response)
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


class TransactionalRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        writes = not set(self.methods or ()) <= READ_METHODS

        async def route_handler(request: Request) -> Response:
            db: Database = request.app.state.db
            session = db.session(write=writes)
            request.state.session = session
            try:
                response = await handler(request)
            except IdempotentReplay as replay:
                await run_in_threadpool(_finish, session, False, None, None)
                return replay.response()
            except BaseException:
                await run_in_threadpool(_finish, session, False, None, None)
                raise
            commit = writes and response.status_code < 400
            claim: Claim | None = getattr(request.state, "idempotency_claim", None)
            if commit or session.in_transaction():
                await run_in_threadpool(_finish, session, commit, claim, response)
            else:
                session.close()
            return response

        return route_handler
