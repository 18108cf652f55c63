"""The composition root: one process's database, event bus and dispatcher, wired from settings.

The API server, the worker and the demo all start from here, so they run the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from naadloos import migrations
from naadloos.catalog.service import prices
from naadloos.inventory.service import expiry
from naadloos.kit.db import Database
from naadloos.kit.errors import ServiceUnavailable
from naadloos.kit.jobs import PeriodicJob
from naadloos.kit.nats import NatsPublisher
from naadloos.kit.outbox import Dispatcher, EventBus
from naadloos.kit.settings import Settings
from naadloos.orders import subscribers as order_reactions
from naadloos.orders.payments import Provider, load_providers
from naadloos.orders.service import orders, routing


def build_bus(providers: Mapping[str, Provider] | None = None) -> EventBus:
    """Every module's in-process subscribers. Modules add theirs here as they land."""
    bus = EventBus()
    order_reactions.subscribe(bus, providers or {})
    return bus


def build_jobs(settings: Settings) -> list[PeriodicJob]:
    """Every module's periodic jobs. Modules add theirs here as they land."""
    return [
        PeriodicJob(
            "reservations.expire",
            settings.reservation_sweep_seconds,
            expiry.expire_due,
        ),
        PeriodicJob(
            "catalog.search-prices",
            settings.search_price_refresh_seconds,
            prices.refresh_due_search_prices,
        ),
        PeriodicJob(
            "orders.uncollected",
            settings.uncollected_sweep_seconds,
            orders.cancel_uncollected,
        ),
        PeriodicJob(
            "orders.unpaid",
            settings.uncollected_sweep_seconds,
            orders.cancel_unpaid,
        ),
    ]


@dataclass
class Runtime:
    settings: Settings
    db: Database
    bus: EventBus
    dispatcher: Dispatcher
    jobs: list[PeriodicJob]
    payments: dict[str, Provider] = field(default_factory=dict)

    async def close(self) -> None:
        if self.dispatcher.publisher is not None:
            await self.dispatcher.publisher.close()
        await self.db.dispose_async()


def build_runtime(settings: Settings) -> Runtime:
    try:
        routing.load(settings.order_router)  # a wrong setting stops the start, not a checkout
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(f"NAADLOOS_ORDER_ROUTER={settings.order_router!r}: {exc}") from exc
    try:
        providers = load_providers(settings.payment_providers)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ValueError(
            f"NAADLOOS_PAYMENT_PROVIDERS={settings.payment_providers!r}: {exc}"
        ) from exc
    db = Database(settings)
    bus = build_bus(providers)
    publisher = (
        NatsPublisher(
            settings.nats_url,
            settings.nats_stream,
            settings.nats_subject_prefix,
            settings.nats_connect_timeout_seconds,
        )
        if settings.nats_url
        else None
    )
    return Runtime(
        settings,
        db,
        bus,
        Dispatcher(db, bus, settings, publisher),
        build_jobs(settings),
        providers,
    )


def check_schema(runtime: Runtime) -> None:
    """Refuse to run against a database that is behind (or ahead of) this code's migrations."""
    current = migrations.current_revision(runtime.db.engine)
    head = migrations.head_revision(runtime.settings)
    if current != head:
        raise ServiceUnavailable(
            f"the database is at migration {current or 'none'} but this naadloos expects {head}: "
            "run `naadloos db upgrade`",
            code_revision=head,
            database_revision=current,
        )
