"""The app factory. Nothing is built at import: `create_app()` wires a fresh runtime."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, FastAPI

from naadloos import __version__
from naadloos.api import docs, me, ops, route_order
from naadloos.api.middleware import RequestContextMiddleware
from naadloos.catalog.api import router as catalog_router
from naadloos.channels.api import router as channels_router
from naadloos.customers import api as customers_api
from naadloos.inventory.api import router as inventory_router
from naadloos.kit import heap, problems
from naadloos.kit.auth import KeyCache
from naadloos.kit.jobs import run_periodically
from naadloos.kit.settings import Settings, get_settings
from naadloos.orders import payments_api
from naadloos.orders.api import router as orders_router
from naadloos.runtime import Runtime, build_runtime

log = logging.getLogger(__name__)

DESCRIPTION = """\
naadloos is an open-source omnichannel engine for retailers: one customer, one catalog, one
price, one stock, one order book and one conversation across stores, webshop, app, social,
marketplaces, phone, email, SMS and chat.

Authenticate with an API key: `Authorization: Bearer nl_...`. Errors are RFC 9457
problem+json with a stable `code`. Creating POSTs accept an `Idempotency-Key`.
"""


def _mount(app: FastAPI, router: APIRouter) -> None:
    """Add the router's routes to the app itself. `include_router` keeps each router as a
    branch that FastAPI (0.16x) matches through, route by route, on every request: with a dozen
    routers that was 14% of the API process's time for a reservation (cProfile). The routes
    were built by their router (route class, tags, responses), so the OpenAPI is the same."""
    app.router.routes.extend(router.routes)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    dispatch: bool | None = None,
    settle_heap: bool = False,
) -> FastAPI:
    """Build the API. Without dispatch (`NAADLOOS_DISPATCH_EVENTS=false`), event delivery is
    left to `naadloos worker` processes. `settle_heap` freezes what the process built at start
    out of the garbage collector's full collections (`naadloos serve`; see `kit.heap`)."""
    if runtime is None:
        runtime = build_runtime(settings or get_settings())
    rt = runtime
    if dispatch is None:
        dispatch = rt.settings.dispatch_events

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[dict[str, Any]]:
        stop = asyncio.Event()
        tasks = (
            [
                asyncio.create_task(rt.dispatcher.run_forever(stop)),
                asyncio.create_task(run_periodically(rt.db, rt.jobs, stop)),
            ]
            if dispatch
            else []
        )
        if settle_heap:
            log.debug("heap settled: %d objects frozen", heap.settle())
        try:
            yield {}
        finally:
            stop.set()
            rt.dispatcher.notify()
            for task in tasks:
                await task
            await rt.close()

    app = FastAPI(
        title="naadloos",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.runtime = rt
    app.state.db = rt.db
    app.state.key_cache = KeyCache(rt.settings.api_key_cache_seconds)
    problems.install(app)
    app.add_middleware(RequestContextMiddleware)
    docs.mount(app)
    for router in (
        ops.router,
        me.router,
        channels_router,
        customers_api.tracking_router,
        customers_api.router,
        customers_api.identity_router,
        catalog_router,
        inventory_router,
        orders_router,
        payments_api.router,
        payments_api.calling_out,
    ):
        _mount(app, router)
    docs.declare_security(app)  # the document lists the routes in the order declared
    app.router.routes[:] = route_order.busiest_first(app.router.routes)
    return app


def create_served_app() -> FastAPI:
    """The factory `naadloos serve` gives uvicorn: the app of `create_app()`, in a process
    that serves until it stops."""
    return create_app(settle_heap=True)
