"""psycopg connections that keep their prepared statements across a rollback, and more of them.

psycopg prepares a statement on its server once it has run it five times on a connection (the
parse and plan are then done once). At every `rollback()` it forgets them all: it sends
`DEALLOCATE ALL` and starts counting again, a precaution for a rolled-back `CREATE` whose
objects may come back different. But a prepared statement is not transactional in
PostgreSQL: a rollback does not remove it, and one whose preparing failed was never
recorded. naadloos rolls back whenever a request is refused (a 409 for too little stock, a
422 found in a transaction): on PostgreSQL each cost a `DEALLOCATE ALL` round trip, and the
next five runs of every statement on that connection went unprepared, each re-parsed and
re-planned by the server, the sixth an extra round trip to prepare it again. With 40% of
reservations refused, most statements in the reservation benchmark ran unprepared.

These classes roll back with a plain `ROLLBACK`. Safe because these connections never run
DDL (migrations run on an engine of their own, `kit.db.create_engine_for(..., ddl=True)`, which
keeps psycopg's rollback); should a statement change the schema anyway, psycopg still discards
its statements when it sees the `ALTER` or `DROP`. Anything unusual (a pipeline, a
`transaction()` block, two-phase commit) takes psycopg's own rollback. `kit.db` makes both of
naadloos' PostgreSQL request and thread engines use them.

They also keep up to `PREPARED_MAX` statements prepared instead of psycopg's 100: naadloos
compiles a statement per shape (the rows of a multi-row INSERT, the events a write carries,
the lines of an order), and a busy process's statements number in the hundreds; past the
limit psycopg deallocates the oldest and prepares it again at its next five runs.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import BaseConnection
from psycopg.abc import PQGen
from psycopg.pq import TransactionStatus


def _plain(conn: BaseConnection[Any]) -> bool:
    """Whether the connection is in a plain transaction, which a bare ROLLBACK ends."""
    return (
        not conn._num_transactions
        and not conn._tpc
        and conn._pipeline is None
        and conn.pgconn.transaction_status != TransactionStatus.IDLE
    )


PREPARED_MAX = 500


class _KeepsPrepared(BaseConnection[Any]):
    """What both classes change: the statements kept, the rollback."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.prepared_max = PREPARED_MAX

    def _rollback_gen(self) -> PQGen[None]:
        if not _plain(self):
            return (yield from super()._rollback_gen())
        yield from self._exec_command(b"ROLLBACK")


class Connection(_KeepsPrepared, psycopg.Connection[Any]):
    pass


class AsyncConnection(_KeepsPrepared, psycopg.AsyncConnection[Any]):
    pass
