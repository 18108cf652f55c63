"""Demo data: a Dutch fashion retailer, "Stijl & Co", with three stores, a webshop, an app,
Instagram, a marketplace, phone, email and WhatsApp. Every capability adds its part here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from naadloos.channels import service as channels
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.schemas import ChannelCreate, ChannelUpdate
from naadloos.customers.service import tracking
from naadloos.kit import auth
from naadloos.kit.time import utcnow

RETAILER = "Stijl & Co"
STORES = ("Amsterdam", "Utrecht", "Rotterdam")


@dataclass(frozen=True)
class DemoKeys:
    admin: str
    till_amsterdam: str


def seed(session: Session) -> DemoKeys:
    """Fill a freshly migrated database with the demo retailer. Returns the demo API keys."""
    for city in STORES:
        channels.create_channel(
            session,
            ChannelCreate(
                code=channels.store_code(city), name=f"{RETAILER} {city}", kind=ChannelKind.STORE
            ),
        )
    channels.update_channel(session, "web", ChannelUpdate(name=f"{RETAILER} webshop"))
    channels.update_channel(session, "app", ChannelUpdate(name=f"{RETAILER} app"))
    channels.create_channel(
        session,
        ChannelCreate(code="instagram", name="Instagram @stijlenco", kind=ChannelKind.SOCIAL),
    )
    channels.create_channel(
        session,
        ChannelCreate(
            code="marketplace", name="Marketplace storefront", kind=ChannelKind.MARKETPLACE
        ),
    )
    _shoppers(session)
    admin = auth.create_key(session, name="demo admin", scopes=[auth.ADMIN])
    till = auth.create_key(
        session,
        name="till 1, Amsterdam",
        scopes=["channels:read", "customers:read", auth.TRACK],
        channel=channels.store_code("Amsterdam"),
    )
    return DemoKeys(admin=admin.key, till_amsterdam=till.key)


def _shoppers(session: Session) -> None:
    """Anna browses the webshop on her phone, buys in the Utrecht store with her loyalty card,
    then asks about her order on WhatsApp: three channels, one person, one timeline."""
    now = utcnow()

    def at(days_ago: float) -> str:
        return (now - timedelta(days=days_ago)).isoformat()

    web: list[dict[str, Any]] = [
        {"type": "page", "anonymousId": "demo-phone-anna", "name": "Jeans", "timestamp": at(9)},
        {
            "type": "track",
            "anonymousId": "demo-phone-anna",
            "event": "Product Viewed",
            "properties": {"sku": "JEANS-SLIM-32", "price": 8995},
            "timestamp": at(9),
        },
        {
            "type": "identify",
            "anonymousId": "demo-phone-anna",
            "userId": "web-10042",
            "traits": {
                "email": "anna.devries@ziggo.nl",
                "first_name": "Anna",
                "last_name": "de Vries",
                "city": "Utrecht",
            },
            "timestamp": at(8),
        },
        {
            "type": "track",
            "userId": "web-10042",
            "event": "Product Added",
            "properties": {"sku": "JEANS-SLIM-32"},
            "timestamp": at(8),
        },
    ]
    store: list[dict[str, Any]] = [
        {
            "type": "identify",
            "userId": "web-10042",
            "traits": {"loyalty_card": "SC-2024-0042", "phone": "06 4123 8765"},
            "timestamp": at(5),
        },
        {
            "type": "track",
            "userId": "web-10042",
            "event": "Order Completed",
            "properties": {"total": 8995, "receipt": "AMS-1-000981"},
            "timestamp": at(5),
        },
    ]
    chat: list[dict[str, Any]] = [
        {
            "type": "track",
            "anonymousId": "wa-31641238765",
            "event": "Message Received",
            "context": {"traits": {"whatsapp": "+31641238765", "phone": "+31641238765"}},
            "properties": {"text": "Kan ik mijn jeans ruilen?"},
            "timestamp": at(1),
        },
    ]
    tracking.ingest(session, web, received_at=now, key_channel="web")
    tracking.ingest(session, store, received_at=now, key_channel=channels.store_code("Utrecht"))
    tracking.ingest(session, chat, received_at=now, key_channel="whatsapp")
    # A visitor who never logged in, and the shop tablet that many customers use.
    tracking.ingest(
        session,
        [{"type": "page", "anonymousId": "demo-laptop-7", "name": "Sale", "timestamp": at(2)}],
        received_at=now,
        key_channel="web",
    )
