"""`make bench`: every benchmark on SQLite, and on PostgreSQL when it is reachable."""

from __future__ import annotations

import logging
import sys

from bench import customer360, http_api, ingest, matching, outbox
from bench.common import fresh_database, postgres_available

logging.disable(logging.WARNING)


def main() -> None:
    backends = ["sqlite"] + (["postgresql"] if postgres_available() else [])
    if "postgresql" not in backends:
        print("bench: PostgreSQL not reachable; SQLite only", file=sys.stderr)
    for backend in backends:
        with fresh_database(backend) as db:
            http_api.run(db)
        with fresh_database(backend) as db:
            outbox.run(db)
        with fresh_database(backend) as db:
            ingest.run(db)
        with fresh_database(backend) as db:
            matching.run(db)
        with fresh_database(backend) as db:
            customer360.run(db)


if __name__ == "__main__":
    main()
