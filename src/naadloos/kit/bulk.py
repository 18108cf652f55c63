"""Bulk reads and writes for hot paths (tracking ingestion): many rows, one statement, through
the driver with values converted by a per-column function chosen once.

SQLAlchemy's executemany spends most of its time per row on generic bind processing; this
writes exactly what SQLAlchemy would store (the same UUID, timestamp and JSON forms, checked by
tests/kit/test_bulk.py) at a fraction of the cost. `lookup` is the read of the same kind: the
rows whose key is one of many, in one `IN` statement whose text is built once per size.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from psycopg.types.json import Json
from sqlalchemy import JSON, Boolean, Column, Table, Uuid
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import InstrumentedAttribute, Session

from naadloos.kit.db import Base, UTCDateTime, sqlite_timestamp, table_of

Convert = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _sqlite_uuid(value: uuid.UUID | None) -> str | None:
    return None if value is None else value.hex


def _sqlite_bool(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _sqlite_json(value: Any) -> str | None:
    if value is None:
        return None
    if not value and type(value) is dict:  # most events' traits and context
        return "{}"
    return json.dumps(value)


def _pg_json(value: Any) -> Any:
    return None if value is None else Json(value)


def _pg_datetime(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)


_CONVERTERS: dict[str, tuple[tuple[type[Any], Convert], ...]] = {
    "sqlite": (
        (Uuid, _sqlite_uuid),
        (UTCDateTime, sqlite_timestamp),
        (JSON, _sqlite_json),
        (Boolean, _sqlite_bool),
    ),
    "postgresql": ((JSON, _pg_json), (UTCDateTime, _pg_datetime)),
}


def _converter(column_type: Any, dialect: str) -> Convert:
    for kind, convert in _CONVERTERS[dialect]:
        if isinstance(column_type, kind):
            return convert
    return _same


@lru_cache(maxsize=64)
def _plan(
    table: Table, columns: tuple[str, ...], dialect: str, ignore_conflicts: bool
) -> tuple[str, tuple[Convert, ...]]:
    mark = "?" if dialect == "sqlite" else "%s"
    names = ", ".join(f'"{c}"' for c in columns)
    marks = ", ".join([mark] * len(columns))
    # Names come from the table's own metadata, checked below; values are always parameters.
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})'  # noqa: S608
    if ignore_conflicts:
        sql += " ON CONFLICT DO NOTHING"
    converters = tuple(_converter(table.c[c].type, dialect) for c in columns)
    return sql, converters


def insert_rows(
    session: Session,
    model: type[Base],
    rows: Sequence[Mapping[str, Any]],
    *,
    ignore_conflicts: bool = False,
) -> None:
    """Insert `rows` (dicts with the same keys, column names) into the model's table; with
    `ignore_conflicts`, rows that would violate a unique constraint are skipped."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect.name
    sql, converters = _plan(table_of(model), tuple(rows[0]), dialect, ignore_conflicts)
    params = [
        tuple(convert(value) for convert, value in zip(converters, row.values(), strict=True))
        for row in rows
    ]
    connection.exec_driver_sql(sql, params)


@lru_cache(maxsize=64)
def _update_plan(
    table: Table, key: str, columns: tuple[str, ...], dialect: str
) -> tuple[str, tuple[Convert, ...]]:
    mark = "?" if dialect == "sqlite" else "%s"
    sets = ", ".join(f'"{c}" = {mark}' for c in columns)
    sql = f'UPDATE "{table.name}" SET {sets} WHERE "{key}" = {mark}'  # noqa: S608
    converters = tuple(_converter(table.c[c].type, dialect) for c in (*columns, key))
    return sql, converters


def update_rows(
    session: Session, model: type[Base], key: str, rows: Sequence[Mapping[str, Any]]
) -> None:
    """`UPDATE ... SET <the other keys> WHERE key = ?` for each row (all rows with the same keys,
    `key` last or anywhere), as one executemany."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect.name
    columns = tuple(c for c in rows[0] if c != key)
    sql, converters = _update_plan(table_of(model), key, columns, dialect)
    params = [
        tuple(convert(row[c]) for convert, c in zip(converters, (*columns, key), strict=True))
        for row in rows
    ]
    connection.exec_driver_sql(sql, params)


LOOKUP_CHUNK = 500  # keys a statement: far below SQLite's and PostgreSQL's parameter limits


def _column(attribute: InstrumentedAttribute[Any] | Column[Any]) -> Column[Any]:
    column = attribute.expression if isinstance(attribute, InstrumentedAttribute) else attribute
    if not isinstance(column, Column) or not isinstance(column.table, Table):
        raise TypeError(f"lookup takes table columns, not {attribute!r}")
    return column


def _quoted(names: Sequence[str]) -> str:
    return ", ".join(f'"{n}"' for n in names)


@lru_cache(maxsize=256)
def _lookup_plan(
    table: Table,
    columns: tuple[str, ...],
    key: tuple[str, ...],
    *,
    extra: str,
    dialect: Dialect,
    size: int,
) -> tuple[str, tuple[Convert, ...], tuple[Convert | None, ...]]:
    mark = "?" if dialect.name == "sqlite" else "%s"
    if len(key) == 1:
        where = f'"{key[0]}" IN ({", ".join([mark] * size)})'
    else:
        row = "(" + ", ".join([mark] * len(key)) + ")"
        where = f"({_quoted(key)}) IN (VALUES {', '.join([row] * size)})"
    # Names come from the table's own metadata; values are always parameters.
    sql = f'SELECT {_quoted(columns)} FROM "{table.name}" WHERE {where}{extra}'  # noqa: S608
    binds = tuple(_converter(table.c[c].type, dialect.name) for c in key)
    results = tuple(
        table.c[c].type.dialect_impl(dialect).result_processor(dialect, None) for c in columns
    )
    return sql, binds, results


def lookup(
    session: Session,
    columns: Sequence[InstrumentedAttribute[Any] | Column[Any]],
    key: Sequence[InstrumentedAttribute[Any] | Column[Any]],
    keys: Sequence[tuple[Any, ...]],
    *,
    where: str = "",
) -> list[tuple[Any, ...]]:
    """`SELECT columns FROM table WHERE (key...) IN (keys)`: every key a tuple of values of the
    key columns, the rows converted as SQLAlchemy reads them, a statement per 500 keys. `where`
    adds a condition on literals only (`"shared" = false`), never on input: it is SQL text.
    Pending ORM changes are flushed first, as `Session.execute` would."""
    if not keys:
        return []
    session.flush()
    cols = [_column(c) for c in columns]
    key_cols = [_column(c) for c in key]
    table = cols[0].table
    if any(c.table is not table for c in (*cols, *key_cols)):
        raise ValueError("lookup reads one table")
    connection = session.connection()
    names, key_names = tuple(c.name for c in cols), tuple(c.name for c in key_cols)
    extra = f" AND {where}" if where else ""
    found: list[tuple[Any, ...]] = []
    for start in range(0, len(keys), LOOKUP_CHUNK):
        chunk = keys[start : start + LOOKUP_CHUNK]
        sql, binds, results = _lookup_plan(
            table, names, key_names, extra=extra, dialect=connection.dialect, size=len(chunk)
        )
        params = tuple(
            convert(value) for one in chunk for convert, value in zip(binds, one, strict=True)
        )
        rows = connection.exec_driver_sql(sql, params).fetchall()
        if not any(results):
            found += [tuple(row) for row in rows]
            continue
        found += [
            tuple(
                value if process is None or value is None else process(value)
                for process, value in zip(results, row, strict=True)
            )
            for row in rows
        ]
    return found


def present(
    session: Session, column: InstrumentedAttribute[Any] | Column[Any], values: Sequence[Any]
) -> set[Any]:
    """Which of `values` occur in `column`."""
    return {row[0] for row in lookup(session, [column], [column], [(v,) for v in values])}
