from __future__ import annotations

import json
import logging

from naadloos.kit.logs import JsonFormatter, request_id


def test_a_log_line_is_one_json_object_with_the_request_id_and_extras() -> None:
    record = logging.LogRecord("naadloos.access", logging.INFO, "x.py", 1, "GET %s", ("/v1",), None)
    record.status = 200
    token = request_id.set("req-42")
    try:
        line = JsonFormatter().format(record)
    finally:
        request_id.reset(token)

    entry = json.loads(line)
    assert entry["msg"] == "GET /v1"
    assert entry["level"] == "info"
    assert entry["request_id"] == "req-42"
    assert entry["status"] == 200
    assert entry["ts"].endswith("+00:00")
