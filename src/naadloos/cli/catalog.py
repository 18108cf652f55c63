from __future__ import annotations

import typer

from naadloos.catalog.service import products, search_index
from naadloos.cli.common import cli_runtime, load_settings

app = typer.Typer(help="Catalog: the search index.", no_args_is_help=True)


@app.command("reindex")
def reindex() -> None:
    """Rebuild the search index of every product, in one transaction (after an upgrade that
    changed how text is analysed, or to repair it). Searches keep working meanwhile."""
    with cli_runtime(load_settings(), deliver=False) as runtime:
        with runtime.db.unit_of_work(write=False) as session:
            total = products.count_products(session)
        with (
            typer.progressbar(length=total, label="indexing") as bar,
            runtime.db.unit_of_work() as session,
        ):
            done = search_index.reindex(session, progress=lambda _: bar.update(1))
    typer.echo(f"{done} products indexed")
