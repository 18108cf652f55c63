from __future__ import annotations

import typer

from naadloos.channels import service as channels
from naadloos.cli.common import cli_runtime, load_settings
from naadloos.kit import auth

app = typer.Typer(help="API keys.", no_args_is_help=True)


@app.command("create")
def create(
    name: str = typer.Option(..., "--name", help="Who or what uses the key"),
    scopes: str = typer.Option(..., "--scopes", help="Comma-separated, e.g. channels:read,track"),
    channel: str | None = typer.Option(None, "--channel", help="Bind the key to a channel code"),
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    with cli_runtime(load_settings()) as runtime, runtime.db.unit_of_work() as session:
        if channel is not None:
            channels.get_channel(session, channel)
        created = auth.create_key(session, name=name, scopes=scopes.split(","), channel=channel)
    typer.echo(created.key)
    typer.echo(
        f"key {created.record.prefix} ({', '.join(created.record.scopes)}) created; "
        "store it now, it cannot be shown again",
        err=True,
    )


@app.command("list")
def list_() -> None:
    """List keys (prefix, name, scopes, channel, state); never the secrets."""
    with (
        cli_runtime(load_settings(), deliver=False) as runtime,
        runtime.db.unit_of_work(write=False) as session,
    ):
        for key in auth.list_keys(session):
            state = "revoked" if key.revoked_at else "active"
            typer.echo(
                f"{key.prefix}  {state:7}  {key.name}  [{','.join(key.scopes)}]"
                + (f"  channel={key.channel}" if key.channel else "")
            )


@app.command("revoke")
def revoke(prefix: str = typer.Argument(..., help="The key's prefix (see `keys list`)")) -> None:
    """Revoke a key: it stops working at once."""
    with cli_runtime(load_settings()) as runtime, runtime.db.unit_of_work() as session:
        auth.revoke_key(session, prefix)
    typer.echo(f"key {prefix} revoked")
