"""A stand-in for Stripe's API on a local port (Stripe cannot be reached from the test machine):
the real `stripe` client library talks HTTP to it. It keeps PaymentIntents and refunds as
Stripe does for the calls naadloos makes, honours Idempotency-Key, records every call, and can
fail or decline on request. Webhooks are signed as Stripe signs them."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

WEBHOOK_SECRET = "whsec_naadloos_test"


def _form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`metadata[key]=v`, `payment_method_types[0]=ideal`) as a dict."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        if "[" in key:
            outer, inner = key[:-1].split("[", 1)
            out.setdefault(outer, {})[inner] = value
        else:
            out[key] = value
    return out


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any]
    idempotency_key: str | None


@dataclass
class StripeDouble:
    url: str = ""
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    fail: int = 0  # answer the next `fail` calls with a 500
    decline: str | None = None  # answer the next call with this card_error
    _replies: dict[str, tuple[int, dict[str, Any]]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, body: str, key: str | None) -> tuple[int, Any]:
        with self._lock:
            params = _form(body)
            self.calls.append(Call(method, path, params, key))
            if key is not None and key in self._replies:
                return self._replies[key]
            if self.fail:
                self.fail -= 1
                return 500, {"error": {"type": "api_error", "message": "Stripe is down"}}
            if self.decline is not None:
                message, self.decline = self.decline, None
                return 402, {"error": {"type": "card_error", "message": message}}
            reply = self._answer(path, params)
            if key is not None:
                self._replies[key] = reply
            return reply

    def _answer(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        parts = path.strip("/").split("/")
        if parts == ["v1", "payment_intents"]:
            return self._create(params)
        if parts[:2] == ["v1", "payment_intents"] and len(parts) == 4:
            intent = self.intents.get(parts[2])
            if intent is None:
                return 404, _invalid("No such payment_intent")
            return self._act(intent, parts[3], params)
        if parts == ["v1", "refunds"]:
            return self._refund(params)
        return 404, _invalid(f"unknown path {path}")

    def _create(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent_id = f"pi_{uuid.uuid4().hex[:20]}"
        intent = {
            "id": intent_id,
            "object": "payment_intent",
            "amount": int(params["amount"]),
            "amount_capturable": 0,
            "amount_received": 0,
            "currency": params["currency"],
            "capture_method": params.get("capture_method", "automatic"),
            "client_secret": f"{intent_id}_secret_{uuid.uuid4().hex[:10]}",
            "metadata": params.get("metadata", {}),
            "status": "requires_payment_method",
        }
        self.intents[intent_id] = intent
        return 200, intent

    def _act(
        self, intent: dict[str, Any], verb: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any]]:
        if verb == "capture":
            if intent["status"] != "requires_capture":
                return 400, _invalid(f"This PaymentIntent is {intent['status']}")
            amount = int(params.get("amount_to_capture", intent["amount_capturable"]))
            intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        elif verb == "cancel":
            if intent["status"] in {"succeeded", "canceled"}:
                return 400, _invalid(f"This PaymentIntent is {intent['status']}")
            intent.update(status="canceled", amount_capturable=0)
        return 200, intent

    def _refund(self, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        intent = self.intents[params["payment_intent"]]
        amount = int(params["amount"])
        refunded = intent.get("refunded", 0) + amount
        if refunded > intent["amount_received"]:
            return 400, _invalid("Refund exceeds the charge")
        intent["refunded"] = refunded
        return 200, {
            "id": f"re_{uuid.uuid4().hex[:20]}",
            "object": "refund",
            "amount": amount,
            "payment_intent": intent["id"],
            "status": "succeeded",
        }

    # What the customer does on their device, and what Stripe then says.

    def customer_pays(self, intent_id: str) -> dict[str, Any]:
        """The customer confirms with their card: the amount is held (requires_capture)."""
        intent = self.intents[intent_id]
        intent.update(status="requires_capture", amount_capturable=intent["amount"])
        return event("payment_intent.amount_capturable_updated", intent)

    def card_refused(self, intent_id: str) -> dict[str, Any]:
        return event("payment_intent.payment_failed", self.intents[intent_id])

    def calls_to(self, suffix: str) -> list[Call]:
        return [c for c in self.calls if c.path.endswith(suffix)]


def _invalid(message: str) -> dict[str, Any]:
    return {"error": {"type": "invalid_request_error", "message": message}}


def event(kind: str, obj: dict[str, Any], event_id: str | None = None) -> dict[str, Any]:
    return {
        "id": event_id or f"evt_{uuid.uuid4().hex[:20]}",
        "object": "event",
        "type": kind,
        "created": int(time.time()),
        "data": {"object": dict(obj)},
    }


def signed(
    payload: dict[str, Any], *, secret: str = WEBHOOK_SECRET, at: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers of Stripe's webhook call: `t=<time>,v1=<HMAC-SHA256 of t.body>`."""
    body = json.dumps(payload).encode()
    stamp = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={stamp},v1={mac}", "Content-Type": "application/json"}


@contextmanager
def stripe_double() -> Iterator[StripeDouble]:
    double = StripeDouble()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            status, reply = double.handle(
                "POST", self.path, body, self.headers.get("Idempotency-Key")
            )
            data = json.dumps(reply).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    double.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield double
    finally:
        server.shutdown()
        server.server_close()
