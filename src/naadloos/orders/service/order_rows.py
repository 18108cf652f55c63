"""Writing a new order's rows: the order, its lines, its first history row, and on the cart it
comes from (if any) the order it became.

On PostgreSQL in one statement, where there were four round trips:

    WITH placed AS (INSERT INTO orders ... ON CONFLICT DO NOTHING RETURNING id, cart_id),
         lines AS (INSERT INTO order_lines SELECT placed.id, ... FROM placed UNION ALL ...),
         first AS (INSERT INTO order_changes SELECT placed.id, ... FROM placed),
         linked AS (UPDATE carts SET order_id = placed.id FROM placed
                    WHERE carts.id = placed.cart_id)
    SELECT id FROM placed

The lines, the history row and the cart's link are written only with the order (a receipt
recorded before, or an order number drawn twice, writes nothing), and their foreign keys are
checked at the end of the statement, as for any other. The statement also takes the
transaction's pending events along (`kit.events.take_pending`). Compiled once per shape
(columns, lines, events). SQLite has no INSERT in a CTE: separate statements there, which in
process cost next to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, bindparam, insert, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from naadloos.kit import events
from naadloos.kit.db import insert_or_nothing, table_of
from naadloos.kit.prepared import Prepared, insert_all
from naadloos.orders.models import Cart, Order, OrderChange, OrderLine

ORDERS = table_of(Order)
LINES = table_of(OrderLine)
CHANGES = table_of(OrderChange)
CARTS = table_of(Cart)
_LINK = Prepared(
    update(CARTS).where(CARTS.c.id == bindparam("cart")).values(order_id=bindparam("order"))
)
_MOST_LINES_TOGETHER = 32


def _row_of(placed_id: ColumnElement[Any], table: Any, columns: Sequence[str], tag: str) -> Any:
    """`SELECT placed.id, :<column>_<tag>, ... FROM placed`: one row when the order was written."""
    binds = [bindparam(f"{c}_{tag}", type_=table.c[c].type) for c in columns]
    return select(placed_id, *binds)


@lru_cache(maxsize=256)  # shapes: lines x events carried, for a few column sets
def _together(
    order_columns: tuple[str, ...],
    line_columns: tuple[str, ...],
    lines: int,
    change_columns: tuple[str, ...],
    *,
    carried: int,
    from_cart: bool,
) -> Prepared:
    placed = (
        pg_insert(ORDERS)
        .values({c: bindparam(f"o_{c}", type_=ORDERS.c[c].type) for c in order_columns})
        .on_conflict_do_nothing()
        .returning(ORDERS.c.id, ORDERS.c.cart_id)
        .cte("placed")
    )
    selects: list[Any] = [_row_of(placed.c.id, LINES, line_columns, str(n)) for n in range(lines)]
    line_rows: Any = selects[0] if lines == 1 else union_all(*selects)
    written_lines = insert(LINES).from_select(["order_id", *line_columns], line_rows).cte("lines")
    first = (
        insert(CHANGES)
        .from_select(
            ["order_id", *change_columns], _row_of(placed.c.id, CHANGES, change_columns, "c")
        )
        .cte("first")
    )
    statement = select(placed.c.id).add_cte(written_lines).add_cte(first)
    if from_cart:
        linked = (
            update(CARTS)
            .where(CARTS.c.id == placed.c.cart_id)
            .values(order_id=placed.c.id)
            .cte("linked")
        )
        statement = statement.add_cte(linked)
    if carried:
        statement = statement.add_cte(events.outbox_cte(carried))
    return Prepared(statement)


def write_order(
    session: Session,
    order: Mapping[str, Any],
    lines: Sequence[Mapping[str, Any]],
    change: Mapping[str, Any],
) -> bool:
    """Insert the order (every column given), its lines and its first change (each with its
    `order_id`), and set the order on its cart (`cart_id`, if any). False, writing nothing,
    when the order's row clashes with one recorded before."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if postgresql and 0 < len(lines) <= _MOST_LINES_TOGETHER:
        line_columns = tuple(c for c in lines[0] if c != "order_id")
        change_columns = tuple(c for c in change if c != "order_id")
        params = {f"o_{c}": v for c, v in order.items()}
        for n, line in enumerate(lines):
            params.update({f"{c}_{n}": line[c] for c in line_columns})
        params.update({f"{c}_c": change[c] for c in change_columns})
        pending = events.take_pending(session)
        params.update(pending)
        from_cart = order.get("cart_id") is not None
        statement = _together(
            tuple(order),
            line_columns,
            len(lines),
            change_columns,
            carried=events.carried(pending),
            from_cart=from_cart,
        )
        session.flush()  # as insert_or_nothing does: pending ORM rows first
        return statement.first(session, params) is not None
    if insert_or_nothing(session, Order, dict(order), Order.id) is None:
        return False
    insert_all(session, LINES, lines)  # one round trip, as an executemany is not
    insert_all(session, CHANGES, [change])
    if order.get("cart_id") is not None:
        _LINK.run(session, {"cart": order["cart_id"], "order": order["id"]})
    return True
