from __future__ import annotations

from naadloos.kit.ids import new_id


def test_ids_are_version_7_and_in_the_order_they_were_made() -> None:
    ids = [new_id() for _ in range(10_000)]

    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
