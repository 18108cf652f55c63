from __future__ import annotations

from pathlib import Path

import typer
import uvicorn

from naadloos import demo as demo_data
from naadloos import migrations
from naadloos.api.app import create_app
from naadloos.cli.common import cli_runtime, load_settings
from naadloos.cli.serving import event_loop
from naadloos.kit.logs import configure


def demo(
    db: Path = typer.Option(Path("naadloos-demo.db"), "--db", help="SQLite file, made afresh"),
    host: str = typer.Option("127.0.0.1", help="Interface to listen on"),
    port: int = typer.Option(8000, help="Port to listen on"),
    serve: bool = typer.Option(True, help="Serve the API after loading the demo"),
) -> None:
    """Start afresh on an embedded SQLite file with the demo retailer, then serve the API."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    settings = load_settings(database_url=f"sqlite:///{db.resolve()}")
    configure(settings.log_level, "text")
    migrations.upgrade(settings)
    with cli_runtime(settings) as runtime, runtime.db.unit_of_work() as session:
        keys = demo_data.seed(session)
    base = f"http://{host}:{port}"
    typer.echo(
        f"""
naadloos demo: {demo_data.RETAILER}, on {db}

  API docs      {base}/docs
  admin key     {keys.admin}
  till key      {keys.till_amsterdam}   (bound to channel store:amsterdam)

  try:  curl -H 'Authorization: Bearer {keys.admin}' {base}/v1/channels/matrix
        curl -H 'Authorization: Bearer {keys.admin}' \\
             '{base}/v1/customers?identifier=loyalty_card:SC-2024-0042'
        curl -H 'Authorization: Bearer {keys.admin}' \\
             '{base}/v1/availability?sku=JAS-W-M&channel=web&near=52.09,5.12'
        curl -H 'Authorization: Bearer {keys.till_amsterdam}' \\
             '{base}/v1/products/by-gtin/8712345678906?channel=store:amsterdam'
        curl -H 'Authorization: Bearer {keys.till_amsterdam}' \\
             '{base}/v1/orders?customer=loyalty_card:SC-2024-0042'
"""
    )
    if serve:
        configure(settings.log_level, "text")
        uvicorn.run(
            create_app(settings, settle_heap=True),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
            loop=event_loop(settings),
        )
