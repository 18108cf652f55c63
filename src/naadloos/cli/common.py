"""What every command needs: settings, logs, a runtime, and errors printed for people."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from typing import NoReturn

import typer
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from naadloos.kit.errors import NaadloosError
from naadloos.kit.logs import configure
from naadloos.kit.settings import Settings
from naadloos.runtime import Runtime, build_runtime

log = logging.getLogger("naadloos.cli")


def load_settings(database_url: str | None = None) -> Settings:
    """Settings from the environment; `database_url` overrides it (the demo's own file)."""
    try:
        return Settings() if database_url is None else Settings(database_url=database_url)
    except ValidationError as exc:
        problems = "; ".join(
            f"NAADLOOS_{'_'.join(map(str, e['loc'])).upper()}: {e['msg']}" for e in exc.errors()
        )
        fail(f"invalid configuration: {problems}")


def fail(message: str, code: int = 2) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def cli_runtime(settings: Settings, *, deliver: bool = True) -> Iterator[Runtime]:
    """A runtime for one command. Events the command wrote are delivered before it exits; what
    cannot be delivered now stays in the outbox for the server or a worker."""
    configure(settings.log_level, "text")
    runtime = build_runtime(settings)
    try:
        yield runtime
        if deliver:
            asyncio.run(_drain_and_close(runtime))
    except NaadloosError as exc:
        fail(exc.detail)
    except SQLAlchemyError as exc:
        where = settings.database_url_for_display
        fail(f"the database at {where} failed: {exc.__class__.__name__}: {exc}")
    finally:
        runtime.db.dispose()


async def _drain_and_close(runtime: Runtime) -> None:
    try:
        await runtime.dispatcher.drain()
    except Exception as exc:  # delivery is retried by the server or a worker
        log.warning("events stay in the outbox for later delivery: %s", exc)
    finally:
        await runtime.close()
