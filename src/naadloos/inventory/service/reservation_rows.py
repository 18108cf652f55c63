"""Writing a reservation's rows: the reservation and its lines.

On PostgreSQL in one statement (`WITH held AS (INSERT INTO reservations ...) INSERT INTO
reservation_lines ...`: a data-modifying CTE, whose foreign-key checks run at the end of the
statement), one round trip where two were; compiled once per number of lines and of events.
The statement also takes the transaction's pending events along (the hold's StockChanged,
`kit.events.take_pending`), which would otherwise be a round trip of their own at the commit.
SQLite has no INSERT in a CTE: two statements there, which in process cost next to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.orm import Session

from naadloos.inventory.models import Reservation, ReservationLine
from naadloos.kit import events
from naadloos.kit.db import table_of
from naadloos.kit.prepared import Prepared, insert_all

RESERVATIONS = table_of(Reservation)
LINES = table_of(ReservationLine)
_LINE_COLUMNS = ("line", "sku", "location_id", "quantity")
_MOST_LINES_TOGETHER = 32


@lru_cache(maxsize=4 * _MOST_LINES_TOGETHER)
def _together(lines: int, carried: int) -> Prepared:
    """The reservation (`:r_<column>`), `lines` lines (`:<column>_<n>`) and `carried` pending
    events (`kit.events.outbox_cte`) in one statement."""
    held = (
        insert(RESERVATIONS)
        .values({c.name: bindparam(f"r_{c.name}", type_=c.type) for c in RESERVATIONS.columns})
        .cte("held")
    )
    rid = bindparam("r_id", type_=RESERVATIONS.c.id.type)
    values = [
        {"reservation_id": rid}
        | {c: bindparam(f"{c}_{n}", type_=LINES.c[c].type) for c in _LINE_COLUMNS}
        for n in range(lines)
    ]
    statement = insert(LINES).values(values).add_cte(held)
    if carried:
        statement = statement.add_cte(events.outbox_cte(carried))
    return Prepared(statement)


def write_reservation(
    session: Session, reservation: Mapping[str, Any], lines: Sequence[Mapping[str, Any]]
) -> None:
    """Insert the reservation (every column) and its lines (`_LINE_COLUMNS`; the reservation's
    id is added)."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and 0 < len(lines) <= _MOST_LINES_TOGETHER:
        params = {f"r_{name}": value for name, value in reservation.items()}
        for n, line in enumerate(lines):
            params.update({f"{c}_{n}": line[c] for c in _LINE_COLUMNS})
        pending = events.take_pending(session)
        params.update(pending)
        _together(len(lines), events.carried(pending)).run(session, params)
        return
    insert_all(session, RESERVATIONS, [reservation])
    rid = reservation["id"]
    insert_all(session, LINES, [{"reservation_id": rid, **line} for line in lines])
