from __future__ import annotations

import asyncio
import os
import signal

import typer

from naadloos import migrations
from naadloos.cli import catalog, channels, customers, demo, keys, serving
from naadloos.cli.common import cli_runtime, load_settings
from naadloos.kit import heap
from naadloos.kit.jobs import run_once, run_periodically
from naadloos.kit.logs import configure
from naadloos.runtime import Runtime, build_runtime, check_schema

app = typer.Typer(
    name="naadloos",
    help="naadloos: an open-source omnichannel engine for retailers.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(keys.app, name="keys")
app.add_typer(channels.app, name="channels")
app.add_typer(customers.app, name="customers")
app.add_typer(catalog.app, name="catalog")
app.command("demo")(demo.demo)


@db_app.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head", help="Target revision")) -> None:
    """Bring the database schema up to date (creates a fresh database)."""
    settings = load_settings()
    configure(settings.log_level, "text")
    migrations.upgrade(settings, revision)
    typer.echo(
        f"database at {migrations.head_revision(settings)}: {settings.database_url_for_display}"
    )


@db_app.command("current")
def db_current() -> None:
    """Show the database's schema revision and the one this code expects."""
    settings = load_settings()
    with cli_runtime(settings, deliver=False) as runtime:
        current = migrations.current_revision(runtime.db.engine)
    typer.echo(
        f"database: {current or 'empty'}; code expects: {migrations.head_revision(settings)}"
    )


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, help="Port to listen on"),
    workers: int = typer.Option(1, min=1, help="API processes (each stateless)"),
    dispatch: bool = typer.Option(True, help="Deliver events in this process (else: a worker)"),
) -> None:
    """Serve the HTTP API (and deliver events, unless --no-dispatch)."""
    settings = load_settings()
    with cli_runtime(settings, deliver=False) as runtime:
        check_schema(runtime)
    configure(settings.log_level, settings.log_format)
    # Each API process builds its own app from the environment (the factory reads settings).
    os.environ["NAADLOOS_DISPATCH_EVENTS"] = "true" if dispatch else "false"
    status = serving.serve(host, port, workers, settings)
    if status:
        raise typer.Exit(status)


@app.command()
def worker(
    once: bool = typer.Option(False, "--once", help="Deliver what is pending, then exit"),
) -> None:
    """Deliver outbox events (to in-process subscribers and NATS) and run the periodic jobs
    (expiring reservations) without serving the API."""
    settings = load_settings()
    with cli_runtime(settings, deliver=False) as runtime:
        check_schema(runtime)
    configure(settings.log_level, settings.log_format)
    asyncio.run(_work(build_runtime(settings), once))


async def _work(runtime: Runtime, once: bool) -> None:
    try:
        if once:
            for job in runtime.jobs:
                done = await asyncio.to_thread(run_once, runtime.db, job)
                typer.echo(f"{job.name}: {done}")
            delivered = await runtime.dispatcher.drain()
            typer.echo(f"delivered {delivered} events")
            return
        heap.settle()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await asyncio.gather(
            runtime.dispatcher.run_forever(stop),
            run_periodically(runtime.db, runtime.jobs, stop),
        )
    finally:
        await runtime.close()


def main() -> None:
    app()
