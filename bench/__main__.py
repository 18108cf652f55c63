"""`make bench`: every benchmark on SQLite, and on PostgreSQL when it is reachable.
`python -m bench matching ingest` runs only those."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from bench import checkout, customer360, http_api, ingest, inventory, matching, outbox, search
from bench.common import BenchDatabase, fresh_database, postgres_available

logging.disable(logging.WARNING)

BENCHMARKS: dict[str, Callable[[BenchDatabase], None]] = {
    "http_api": http_api.run,
    "outbox": outbox.run,
    "ingest": ingest.run,
    "matching": matching.run,
    "customer360": customer360.run,
    "availability": inventory.availability,
    "reservations": inventory.reservations,
    "search": search.run,
    "checkout": checkout.run,
}


def main() -> None:
    wanted = sys.argv[1:] or list(BENCHMARKS)
    unknown = [name for name in wanted if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"bench: no benchmark {', '.join(unknown)}; there are {', '.join(BENCHMARKS)}")
    backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
    if "postgresql" not in backends:
        print("bench: PostgreSQL not reachable; SQLite only", file=sys.stderr)
    for backend in backends:
        for name in wanted:
            with fresh_database(backend) as db:
                BENCHMARKS[name](db)


if __name__ == "__main__":
    main()
