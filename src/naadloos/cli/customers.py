from __future__ import annotations

import json
import uuid
from pathlib import Path

import typer

from naadloos.channels import service as channels
from naadloos.cli.common import cli_runtime, fail, load_settings
from naadloos.customers.service import match, records, tracking
from naadloos.kit.time import utcnow

app = typer.Typer(help="Customers: import and export records.", no_args_is_help=True)

CHUNK = 500


@app.command("import")
def import_(
    path: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV or JSONL file"),
    channel: str = typer.Option(..., "--channel", help="The channel the records come from"),
) -> None:
    """Import customer records. Bad rows are reported with their line number and skipped; good
    rows are kept; importing the same file again changes nothing."""
    try:
        unknown = records.unknown_columns(path)
    except records.RecordError as exc:
        fail(str(exc))
    if unknown:
        typer.echo(f"ignoring unknown columns: {', '.join(unknown)}", err=True)
    total = sum(1 for _ in records.iter_rows(path))
    counts = {"imported": 0, "unchanged": 0, "bad": 0}
    with cli_runtime(load_settings()) as runtime:
        with runtime.db.unit_of_work(write=False) as session:
            channels.get_channel(session, channel)
        chunk: list[records.Record] = []

        def flush() -> None:
            with runtime.db.unit_of_work() as session:
                result = tracking.ingest_records(
                    session,
                    [(r.line, r.message_id, r.traits, r.refs) for r in chunk],
                    channel=channel,
                    received_at=utcnow(),
                )
            counts["imported"] += result.accepted
            counts["unchanged"] += result.duplicates
            for rejected in result.rejected:
                counts["bad"] += 1
                typer.echo(f"line {rejected.index}: {rejected.detail}", err=True)
            chunk.clear()

        rows = records.iter_rows(path)
        with typer.progressbar(rows, length=total, label=f"importing {path.name}") as bar:
            for row in bar:
                try:
                    chunk.append(records.to_record(row, channel))
                except records.RecordError as exc:
                    counts["bad"] += 1
                    typer.echo(f"line {row.line}: {exc}", err=True)
                if len(chunk) >= CHUNK:
                    flush()
            if chunk:
                flush()
    typer.echo(
        f"{counts['imported']} imported, {counts['unchanged']} unchanged, "
        f"{counts['bad']} bad rows skipped"
    )


@app.command("export")
def export(path: Path = typer.Argument(..., dir_okay=False, help="JSONL file to write")) -> None:
    """Export every person as a JSON line: id, traits, identifiers and sources."""
    written = 0
    with cli_runtime(load_settings(), deliver=False) as runtime, path.open("w") as out:
        after: uuid.UUID | None = None
        while True:
            with runtime.db.unit_of_work(write=False) as session:
                lines = records.export_persons(session, after, CHUNK)
                if not lines:
                    break
            for line in lines:
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
            written += len(lines)
            after = uuid.UUID(lines[-1]["id"])
    typer.echo(f"{written} customers written to {path}")


@app.command("rematch")
def rematch() -> None:
    """Re-run matching over every person (after changing the thresholds, or after an import
    made with older rules). Merges above the automatic weight, suggests between the weights."""
    settings = load_settings()
    thresholds = match.Thresholds(settings.match_auto_merge_weight, settings.match_review_weight)
    merged = suggested = 0
    with cli_runtime(settings) as runtime:
        with runtime.db.unit_of_work(write=False) as session:
            total = records.count_persons(session)
        after: uuid.UUID | None = None
        with typer.progressbar(length=total, label="matching") as bar:
            while True:
                with runtime.db.unit_of_work(write=False) as session:
                    ids = records.person_ids(session, after, CHUNK)
                if not ids:
                    break
                with runtime.db.unit_of_work() as session:
                    outcome = match.refresh(session, ids, thresholds=thresholds, at=utcnow())
                merged += len(outcome.merged)
                suggested += outcome.suggested
                after = ids[-1]
                bar.update(len(ids))
    typer.echo(f"{merged} merged, {suggested} suggestions for review")
