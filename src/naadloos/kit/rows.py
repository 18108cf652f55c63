"""Rows the request already has, without reading them again.

`adopt`: a row a statement just returned (an `UPDATE ... RETURNING` of every column) or wrote
(an INSERT of every column) as the session's persistent object, with no SELECT. The object is
what `session.get(..., populate_existing=True)` would give: one already in the session gets
the row's values as loaded state; a new one joins the identity map.

`memo`: a dict (or list) that lives as long as the session's transaction, for facts that cannot
change under it (a location's code: a second read in the same request is a dict lookup) or for
what the transaction will write at its commit (its events). It is dropped whenever the
transaction ends, committed or not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast, overload

from sqlalchemy import event, inspect
from sqlalchemy.orm import (
    Session,
    SessionTransaction,
    configure_mappers,
    make_transient_to_detached,
)
from sqlalchemy.orm.attributes import set_committed_value

from naadloos.kit.db import Base

M = TypeVar("M", bound=Base)

_MEMOS = "naadloos.memos"


def adopt(session: Session, model: type[M], row: Mapping[str, Any]) -> M:
    """`row` (every mapped column by attribute name) as the session's object of `model`.
    Pending changes of the session must have been flushed before the row was read."""
    mapper = inspect(model)
    if not mapper.configured:  # its attributes are set up with the first ORM use
        configure_mappers()
    names = [mapper.get_property_by_column(c).key for c in mapper.primary_key]
    key = mapper.identity_key_from_primary_key(tuple(row[n] for n in names))
    found = session.identity_map.get(key)
    if found is not None:
        for name, value in row.items():
            set_committed_value(found, name, value)
        return cast(M, found)
    obj = cast(M, mapper.class_manager.new_instance())
    for name, value in row.items():
        set_committed_value(obj, name, value)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


@overload
def memo(session: Session, name: str) -> dict[Any, Any]: ...
@overload
def memo(session: Session, name: str, kind: type[list[Any]]) -> list[Any]: ...
def memo(
    session: Session, name: str, kind: type[dict[Any, Any]] | type[list[Any]] = dict
) -> dict[Any, Any] | list[Any]:
    """The transaction's dict (or list) called `name` (see the module)."""
    memos: dict[str, Any] = session.info.setdefault(_MEMOS, {})
    found = memos.get(name)
    if found is None:
        if session.get_transaction() is None:  # so that its end is seen and empties it
            session.begin()
        found = memos[name] = kind()
    return cast(dict[Any, Any] | list[Any], found)


def _forget(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(_MEMOS, None)


event.listen(Session, "after_transaction_end", _forget)
