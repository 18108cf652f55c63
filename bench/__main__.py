"""`make bench`: every benchmark on SQLite, and on PostgreSQL when it is reachable.
`python -m bench matching ingest` runs only those. `python -m bench --smoke` runs each at a
tiny size (the test suite does, so a benchmark that no longer runs is caught by CI; its
figures mean nothing)."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable

from bench import checkout, customer360, http_api, ingest, inventory, matching, outbox, search
from bench.common import ONE_PROCESS, PRODUCTION, fresh_database, postgres_available

logging.disable(logging.WARNING)

BENCHMARKS: dict[str, Callable[..., None]] = {
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


# Run again on PostgreSQL in the layout the README recommends there (an API process per core,
# events in a worker): their figures with one process and with that.
LAYOUT_AWARE = {"reservations", "checkout"}

# --smoke: the sizes of each benchmark's own arguments, and of those read from the environment.
SMOKE_SIZES: dict[str, dict[str, int]] = {
    "http_api": {"reads": 60, "writes": 30},
    "outbox": {"n": 200},
    "ingest": {"n": 600},
    "matching": {"persons": 150},
    "reservations": {"attempts": 60},
    "checkout": {"checkouts": 24, "warm_up": 8},
}
SMOKE_ENV = {
    "NAADLOOS_BENCH_SKUS": "300",
    "NAADLOOS_BENCH_PERSONS": "300",
    "NAADLOOS_BENCH_PRODUCTS": "300",
}


def main() -> None:
    args = sys.argv[1:]
    smoke = "--smoke" in args
    if smoke:
        args.remove("--smoke")
        os.environ.update(SMOKE_ENV)
    wanted = args or list(BENCHMARKS)
    unknown = [name for name in wanted if name not in BENCHMARKS]
    if unknown:
        sys.exit(f"bench: no benchmark {', '.join(unknown)}; there are {', '.join(BENCHMARKS)}")
    backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
    if "postgresql" not in backends:
        print("bench: PostgreSQL not reachable; SQLite only", file=sys.stderr)
    for backend in backends:
        for name in wanted:
            sizes = SMOKE_SIZES.get(name, {}) if smoke else {}
            if name not in LAYOUT_AWARE:
                with fresh_database(backend) as db:
                    BENCHMARKS[name](db, **sizes)
                continue
            for layout in [ONE_PROCESS] + ([PRODUCTION] if backend == "postgresql" else []):
                with fresh_database(backend) as db:
                    BENCHMARKS[name](db, **sizes, layout=layout)


if __name__ == "__main__":
    main()
