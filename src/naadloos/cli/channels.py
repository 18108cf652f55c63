from __future__ import annotations

import typer
from pydantic import ValidationError

from naadloos.channels import service
from naadloos.channels.kinds import Capability, ChannelKind
from naadloos.channels.schemas import ChannelCreate
from naadloos.cli.common import cli_runtime, fail, load_settings
from naadloos.kit.pagination import MAX_LIMIT, PageParams

app = typer.Typer(
    help="Channels: stores, webshop, app, social, marketplaces...", no_args_is_help=True
)


@app.command("add")
def add(
    name: str = typer.Argument(..., help='Display name, e.g. "Amsterdam Centrum"'),
    kind: ChannelKind = typer.Option(ChannelKind.STORE, "--kind", help="Kind of channel"),
    code: str | None = typer.Option(
        None, "--code", help="Channel code; for a store defaults to store:<name>"
    ),
    capabilities: str | None = typer.Option(
        None, "--capabilities", help="Comma-separated; defaults to the kind's defaults"
    ),
) -> None:
    """Add a channel; each store is a channel of its own (`naadloos channels add Utrecht`)."""
    if code is None:
        if kind is not ChannelKind.STORE:
            fail("--code is required for channels other than stores")
        code = service.store_code(name)
    try:
        data = ChannelCreate(
            code=code,
            name=name,
            kind=kind,
            capabilities=(
                None
                if capabilities is None
                else [Capability(c.strip()) for c in capabilities.split(",") if c.strip()]
            ),
        )
    except (ValidationError, ValueError) as exc:
        fail(str(exc).replace("\n", " "))
    with cli_runtime(load_settings()) as runtime, runtime.db.unit_of_work() as session:
        channel = service.create_channel(session, data)
    typer.echo(
        f"{channel.code}  {channel.kind}  {channel.name}  [{','.join(channel.capabilities)}]"
    )


@app.command("list")
def list_() -> None:
    """List every channel with what it offers."""
    with (
        cli_runtime(load_settings(), deliver=False) as runtime,
        runtime.db.unit_of_work(write=False) as session,
    ):
        cursor: str | None = None
        while True:
            rows, cursor = service.list_channels(
                session, PageParams(limit=MAX_LIMIT, cursor=cursor)
            )
            for c in rows:
                state = "" if c.active else "  (inactive)"
                typer.echo(f"{c.code:28} {c.kind:12} {c.name:28} {','.join(c.capabilities)}{state}")
            if cursor is None:
                break
