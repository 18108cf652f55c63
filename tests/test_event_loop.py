"""Which event loop `naadloos serve` and `naadloos demo` run (ADR 0016)."""

from __future__ import annotations

import pytest

from naadloos.cli.serving import event_loop
from naadloos.kit.settings import Settings


@pytest.mark.parametrize(
    ("url", "chosen", "loop"),
    [
        ("sqlite:///./naadloos.db", "auto", "asyncio"),
        ("postgresql+psycopg://naadloos@db/naadloos", "auto", "auto"),
        ("sqlite:///./naadloos.db", "uvloop", "uvloop"),
        ("postgresql+psycopg://naadloos@db/naadloos", "asyncio", "asyncio"),
    ],
)
def test_the_loop_follows_the_database_unless_chosen(url: str, chosen: str, loop: str) -> None:
    settings = Settings(database_url=url, event_loop=chosen)  # type: ignore[arg-type]
    assert event_loop(settings) == loop


def test_an_unknown_loop_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="event_loop"):
        Settings(event_loop="tokio")  # type: ignore[arg-type]
