"""Statements for the hot paths, compiled once per dialect and run on the driver's cursor.

SQLAlchemy's `Connection.execute` of a cached Core statement costs about 200,000 CPU
instructions before the driver sees it (cache key, execution context, parameter processing,
result set-up, events); the driver's own `execute` of the same UPDATE costs about 100,000
(callgrind, SQLite and psycopg alike). A `Prepared` statement does that work once per
dialect: the SQL text, the parameter order, the type processors (UUIDs, UTC timestamps, JSON)
of each parameter and result column. Each call then binds values and executes on the DBAPI
cursor of the session's connection, inside the session's transaction.

It is for statements on rows the ORM does not hold: it does not flush the session's pending
objects first, and objects the session loaded do not see its changes. Driver errors are
raised as SQLAlchemy's exceptions, as `Connection.execute` raises them, and a lost connection
is invalidated so that the pool does not hand it out again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

from sqlalchemy import Table, bindparam, exc, insert
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ClauseElement

Processor = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class _Plan:
    sql: str
    order: tuple[str, ...] | None  # parameter names in order (positional styles); None: named
    fixed: Mapping[str, Any]  # values the statement carries itself (literals it was built with)
    binds: tuple[tuple[str, Processor], ...]  # parameters whose values need converting
    results: tuple[Processor | None, ...] | None  # per result column; None: none converts


class Prepared:
    """A Core statement run without SQLAlchemy's per-execution machinery (see the module)."""

    def __init__(self, statement: ClauseElement, *, columns: Sequence[str] | None = None) -> None:
        """`columns`: for an `insert(table)` without values, the columns each call gives."""
        self.statement = statement
        self.columns = list(columns) if columns is not None else None
        self._plans: dict[str, _Plan] = {}

    def compile_for(self, dialect: Dialect) -> None:
        """Compile for `dialect` now: ValueError if the statement cannot be prepared."""
        self._plan(dialect)

    def _plan(self, dialect: Dialect) -> _Plan:
        plan = self._plans.get(dialect.name)
        if plan is None:
            plan = self._plans[dialect.name] = self._compile(dialect)
        return plan

    def _compile(self, dialect: Dialect) -> _Plan:
        compiled: Any = self.statement.compile(dialect=dialect, column_keys=self.columns)
        if compiled.literal_execute_params or compiled.post_compile_params:
            raise ValueError("a Prepared statement cannot have expanding (IN) parameters")
        if compiled.insert_prefetch or compiled.update_prefetch:
            raise ValueError(
                "a Prepared statement runs no Python-side column defaults; give every column"
            )
        if compiled.escaped_bind_names:
            raise ValueError("a Prepared statement's parameter names must be plain identifiers")
        binds = []
        fixed = {}
        for name, bind in compiled.binds.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                binds.append((name, processor))
            if not bind.required:
                fixed[name] = bind.value if processor is None else processor(bind.value)
        results = None
        returned = getattr(self.statement, "exported_columns", ())
        processors = tuple(
            column.type.dialect_impl(dialect).result_processor(dialect, None) for column in returned
        )
        if any(processors):
            results = processors
        positional = dialect.positional
        return _Plan(
            sql=str(compiled),
            order=tuple(compiled.positiontup) if positional else None,
            fixed=fixed,
            binds=tuple(binds),
            results=results,
        )

    def _bound(self, plan: _Plan, params: Mapping[str, Any]) -> Any:
        values = {**plan.fixed, **params} if plan.fixed else dict(params)
        for name, processor in plan.binds:
            if name in params:
                values[name] = processor(values[name])
        if plan.order is None:
            return values
        return tuple(values[name] for name in plan.order)

    def rows(self, session: Session, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
        """Execute and return every row (of a SELECT or a RETURNING)."""
        connection = session.connection()
        plan = self._plan(connection.dialect)
        bound = self._bound(plan, params)
        rows = cast(list[tuple[Any, ...]], _run(connection, plan.sql, bound, fetch=True))
        if plan.results is None:
            return rows
        return [_converted(row, plan.results) for row in rows]

    def first(self, session: Session, params: Mapping[str, Any]) -> tuple[Any, ...] | None:
        rows = self.rows(session, params)
        return rows[0] if rows else None

    def run(self, session: Session, params: Mapping[str, Any]) -> int:
        """Execute for the number of rows changed (any rows returned are read and dropped)."""
        connection = session.connection()
        plan = self._plan(connection.dialect)
        return cast(int, _run(connection, plan.sql, self._bound(plan, params), fetch=False))

    def run_many(self, session: Session, params: Iterable[Mapping[str, Any]]) -> None:
        """Execute once per parameter set, in one driver call (`executemany`). One set is
        executed plainly: psycopg pipelines an executemany, three round trips for one row."""
        connection = session.connection()
        plan = self._plan(connection.dialect)
        bound = [self._bound(plan, p) for p in params]
        if len(bound) == 1:
            _run(connection, plan.sql, bound[0], fetch=False)
        elif bound:
            _run(connection, plan.sql, bound, fetch=False, many=True)


ROWS_A_STATEMENT = 64


def insert_all(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` (the same columns each) in multi-row INSERTs of up to `ROWS_A_STATEMENT`
    rows, each compiled once per table, columns and number of rows: one round trip where an
    executemany takes three on PostgreSQL (psycopg pipelines it), one statement where SQLite
    runs one a row."""
    if not rows:
        return
    columns = tuple(rows[0])
    for start in range(0, len(rows), ROWS_A_STATEMENT):
        chunk = rows[start : start + ROWS_A_STATEMENT]
        if len(chunk) == 1:
            _insert_of(table, columns, 1).run(session, chunk[0])
            continue
        values = {f"{c}_{n}": row[c] for n, row in enumerate(chunk) for c in columns}
        _insert_of(table, columns, len(chunk)).run(session, values)


@lru_cache(maxsize=256)
def _insert_of(table: Table, columns: tuple[str, ...], rows: int) -> Prepared:
    """The INSERT of `rows` rows of `columns`, bound as `<column>_<n>` (one row: by name)."""
    if rows == 1:
        return Prepared(insert(table), columns=columns)
    values = [
        {c: bindparam(f"{c}_{n}", type_=table.c[c].type) for c in columns} for n in range(rows)
    ]
    return Prepared(insert(table).values(values))


def _converted(row: Sequence[Any], processors: Sequence[Processor | None]) -> tuple[Any, ...]:
    return tuple(
        value if processor is None or value is None else processor(value)
        for value, processor in zip(row, processors, strict=True)
    )


def _run(connection: Connection, sql: str, params: Any, *, fetch: bool, many: bool = False) -> Any:
    # The DBAPI connection: the driver's own, or SQLAlchemy's adapter of an asyncio driver
    # (which waits for its answers in the request's greenlet).
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        if many:
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params)
        if fetch:
            return cursor.fetchall()
        if cursor.description is not None:  # RETURNING rows: SQLite counts them as they come
            return len(cursor.fetchall())
        return cursor.rowcount
    except connection.dialect.loaded_dbapi.Error as error:
        raise _translated(connection, error, sql, params, cursor) from error
    finally:
        cursor.close()


def _translated(
    connection: Connection, error: Any, sql: str, params: Any, cursor: Any
) -> exc.StatementError:
    """The driver's error as `Connection.execute` would raise it (an `IntegrityError` stays an
    `IntegrityError`); a lost connection is invalidated first."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)
    if lost:
        connection.invalidate(error)
    translated: exc.StatementError = exc.DBAPIError.instance(
        sql,
        params,
        error,
        dialect.loaded_dbapi.Error,
        connection_invalidated=lost,
        dialect=dialect,
    )
    return translated
