"""The request boundary: one transaction per request.

`TransactionalRoute` opens a session before the endpoint runs and, after it returns, commits
when the response is a success of a writing method and rolls back otherwise (errors included).
The commit happens before the response leaves, so a client never sees a success that was not
stored. A writing endpoint that returns (errors raise) commits right after it, in the same
call (one thread hop on PostgreSQL); with an Idempotency-Key the commit waits for the
response, which it stores. Endpoints and services only flush. Idempotency-Key claims join the
same transaction.

Endpoints are plain `def` functions; `kit.blocking` places their database work (ADR 0003).

The route also gives a plain endpoint what every request needs, without FastAPI's dependency
solving (some 15 us a dependency, and a reservation had five): the caller, checked against the
scopes its `Depends(require(...))` declare (route-wide or as a parameter), before the body is
read; the session (`Depends(get_session)`); and any dependency made with `given`. The
declarations stay FastAPI's, so an `async def` endpoint gets the same through FastAPI.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Coroutine
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, TypeVar, get_type_hints

from fastapi import Depends, Request, params
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session
from starlette._utils import get_route_path
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import Scope

from naadloos.kit.auth import Principal, Require, authenticate, authorize
from naadloos.kit.blocking import place_database_work, run_db
from naadloos.kit.db import Database
from naadloos.kit.idempotency import Claim, IdempotentReplay, idempotency

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Declare on every POST that creates something: `@router.post(..., dependencies=[IDEMPOTENT])`.
IDEMPOTENT = Depends(idempotency)


T = TypeVar("T")


@dataclass(slots=True)
class _Unit:
    """The request's unit of work, as the endpoint's wrapper sees it."""

    session: Session
    writes: bool
    request: Request  # its state keeps an Idempotency-Key claim
    principal: Principal | None = None
    finished: bool = False


_unit: ContextVar[_Unit | None] = ContextVar("naadloos_request_unit", default=None)

# Dependencies of the request alone that the route computes for a plain endpoint (`given`).
_GIVEN: dict[Callable[..., Any], Callable[[Request], Any]] = {}


def given(provide: Callable[[Request], T]) -> Callable[[Request], Coroutine[Any, Any, T]]:
    """A dependency computed from the request alone, that cannot fail on the client's input:
    `Depends(given(fn))`. A `TransactionalRoute` calls `fn` for a plain endpoint itself;
    FastAPI solves the returned coroutine function for others."""

    async def dependency(request: Request) -> T:
        return provide(request)

    dependency.__name__ = dependency.__qualname__ = provide.__name__
    dependency.__doc__ = provide.__doc__
    _GIVEN[dependency] = provide
    return dependency


@dataclass(frozen=True, slots=True)
class _Given:
    """What the route gives a plain endpoint: its parameters by name, and whom it lets in."""

    values: dict[str, Callable[[_Unit], Any]]
    scopes: tuple[str, ...]
    caller: bool  # the endpoint takes the caller, so the request needs a key


def _the_caller(unit: _Unit) -> Principal | None:
    return unit.principal


def _giving(provide: Callable[[Request], Any]) -> Callable[[_Unit], Any]:
    return lambda unit: provide(unit.request)


def _what_is_given(signature: inspect.Signature) -> tuple[inspect.Signature, _Given]:
    """Split off the parameters the route gives (see the module's docstring)."""
    kept: list[inspect.Parameter] = []
    values: dict[str, Callable[[_Unit], Any]] = {}
    scopes: list[str] = []
    caller = False
    for parameter in signature.parameters.values():
        default = parameter.default
        dependency = default.dependency if isinstance(default, params.Depends) else None
        if isinstance(dependency, Require):
            scopes.append(dependency.scope)
            values[parameter.name] = _the_caller
        elif dependency is authenticate:
            caller = True
            values[parameter.name] = _the_caller
        elif dependency is not None and dependency in _GIVEN:
            values[parameter.name] = _giving(_GIVEN[dependency])
        else:
            kept.append(parameter)
    given = _Given(values, tuple(scopes), caller or bool(scopes))
    return signature.replace(parameters=kept), given


def _run_and_commit(unit: _Unit, endpoint: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The endpoint, then the commit, on the same thread: one hop for a PostgreSQL write.
    An endpoint that returns has succeeded (errors raise), so its work is committed here; the
    response is built after, from what was committed."""
    result = endpoint(*args, **kwargs)
    _finish(unit.session, True, None, None)
    unit.finished = True
    return result


def _placed(endpoint: Callable[..., Any]) -> tuple[Callable[..., Any], _Given]:
    """Turn a plain `def` endpoint into one that `run_db` places; FastAPI sees its signature
    without what the route gives (and without `__wrapped__`, so it sees a coroutine)."""
    signature, given = _what_is_given(inspect.signature(endpoint, eval_str=True))
    values = tuple(given.values.items())

    async def placed(*args: Any, **kwargs: Any) -> Any:
        unit = _unit.get()
        if unit is None:
            raise RuntimeError(f"{endpoint.__qualname__} runs only on a TransactionalRoute")
        for name, value in values:
            kwargs[name] = value(unit)
        # A write without an Idempotency-Key claim commits as soon as the endpoint returns; a
        # claim stores the response, so that commit waits for the response to exist.
        if unit.writes and getattr(unit.request.state, "idempotency_claim", None) is None:
            return await run_db(_run_and_commit, unit, endpoint, *args, **kwargs)
        return await run_db(endpoint, *args, **kwargs)

    placed.__signature__ = signature  # type: ignore[attr-defined]
    placed.__name__ = endpoint.__name__
    placed.__qualname__ = endpoint.__qualname__
    placed.__doc__ = endpoint.__doc__
    placed.__module__ = endpoint.__module__
    hints = get_type_hints(endpoint, include_extras=True)
    placed.__annotations__ = {k: v for k, v in hints.items() if k not in given.values}
    return placed, given


def _session(request: Request) -> Session:
    """The request's session (opened by `TransactionalRoute`)."""
    session: Session = request.state.session
    return session


get_session = given(_session)


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
        # The scopes the route declares are checked by the route itself, before FastAPI's
        # handler (which reads the body); so are those of a plain endpoint's parameters.
        dependencies = list(kwargs.pop("dependencies", None) or ())
        scopes = [d.dependency.scope for d in dependencies if isinstance(d.dependency, Require)]
        caller = bool(scopes)
        if not inspect.iscoroutinefunction(endpoint):
            endpoint, given = _placed(endpoint)
            scopes += given.scopes
            caller = caller or given.caller
        self.scopes = tuple(dict.fromkeys(scopes))
        self.needs_a_key = caller  # also read by the OpenAPI document (api.docs)
        kept = [d for d in dependencies if not isinstance(d.dependency, Require)]
        super().__init__(path, endpoint, dependencies=kept, **kwargs)
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
        needs_a_key, scopes = self.needs_a_key, self.scopes

        async def route_handler(request: Request) -> Response:
            db: Database = request.app.state.db
            place_database_work(db)
            session = db.request_session(write=writes)
            request.state.session = session
            unit = _Unit(session, writes, request)
            token = _unit.set(unit)
            try:
                if needs_a_key:
                    unit.principal = await authorize(request, scopes)
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
