"""The toolkit every module builds on: settings, database and unit of work, outbox and event bus,
errors, auth, idempotency, pagination, ids, time, logging and metrics."""
