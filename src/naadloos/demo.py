"""Demo data: a Dutch fashion retailer, "Stijl & Co", with three stores, a webshop, an app,
Instagram, a marketplace, phone, email and WhatsApp. Every capability adds its part here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from naadloos.catalog.schemas import PriceIn, ProductCreate, VariantIn
from naadloos.catalog.service import prices, products
from naadloos.channels import service as channels
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.schemas import ChannelCreate, ChannelUpdate
from naadloos.customers.service import tracking
from naadloos.inventory.schemas import (
    Address,
    LocationCreate,
    LocationKind,
    MovementCreate,
    MovementKind,
    SafetyStockIn,
)
from naadloos.inventory.service import locations, movements, safety
from naadloos.kit import auth
from naadloos.kit.time import utcnow
from naadloos.orders.schemas import (
    CartCreate,
    CheckoutIn,
    Contact,
    Fulfilment,
    TillCustomer,
    TillLine,
    TillPayment,
    TillSale,
)
from naadloos.orders.service import carts, checkout, orders, till
from naadloos.orders.service.carts import Policy

RETAILER = "Stijl & Co"
ANNA_CARD = "SC-2024-0042"
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
    _catalog_and_stock(session)
    _order_book(session)
    admin = auth.create_key(session, name="demo admin", scopes=[auth.ADMIN])
    till = auth.create_key(
        session,
        name="till 1, Amsterdam",
        scopes=[
            "channels:read",
            "customers:read",
            "catalog:read",
            "inventory:write",
            "orders:read",
            "orders:write",
            auth.TRACK,
        ],
        channel=channels.store_code("Amsterdam"),
    )
    return DemoKeys(admin=admin.key, till_amsterdam=till.key)


# (code, name, category, price in cents, variants: (sku, size, GTIN))
PRODUCTS = [
    (
        "P-1001",
        "Regenjas Wadden",
        "Dames > Jassen",
        8995,
        [("JAS-W-M", "M", "8712345678906"), ("JAS-W-L", "L", "8712345678913")],
    ),
    (
        "P-2001",
        "Jeans Slim Noordzee",
        "Heren > Broeken",
        6995,
        [("JNS-N-32", "32", "8712345678920"), ("JNS-N-34", "34", "8712345678937")],
    ),
    ("P-3001", "Sneaker Grachtengordel", "Schoenen", 10995, [("SNK-G-42", "42", "8712345678944")]),
]
# (channel, name, latitude, longitude)
PLACES = [
    ("Amsterdam", "Kalverstraat 1", 52.3702, 4.8910),
    ("Utrecht", "Oudegracht 12", 52.0907, 5.1214),
    ("Rotterdam", "Lijnbaan 20", 51.9200, 4.4750),
]


def _catalog_and_stock(session: Session) -> None:
    """Three products in every channel at one price (the marketplace has one listed exception),
    stock in three stores and the warehouse, and a safety stock for the marketplace."""
    for code, name, category, cents, variants in PRODUCTS:
        products.create_product(
            session,
            ProductCreate(
                code=code,
                name=name,
                brand=RETAILER,
                category=category,
                variants=[
                    VariantIn(
                        sku=sku,
                        gtin=gtin,
                        attributes={"size": size},
                        price=PriceIn(amount=cents, vat_rate=Decimal(21)),
                    )
                    for sku, size, gtin in variants
                ],
            ),
            by="demo",
        )
    prices.set_price(
        session,
        "SNK-G-42",
        PriceIn(amount=11495, vat_rate=Decimal(21)),
        channel="marketplace",
        by="demo",
    )
    for city, street, lat, lon in PLACES:
        locations.create_location(
            session,
            LocationCreate(
                code=channels.store_code(city),
                name=f"{RETAILER} {city}",
                kind=LocationKind.STORE,
                address=Address(street=street, city=city),
                latitude=lat,
                longitude=lon,
                opening_hours={
                    day: ["10:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat")
                },
                channel=channels.store_code(city),
            ),
        )
    locations.create_location(
        session,
        LocationCreate(
            code="dc:tilburg",
            name="Distributiecentrum Tilburg",
            kind=LocationKind.WAREHOUSE,
            latitude=51.5555,
            longitude=5.0913,
        ),
    )
    for n, (_, _, _, _, variants) in enumerate(PRODUCTS):
        for sku, _, _ in variants:
            for i, place in enumerate([*(channels.store_code(c) for c in STORES), "dc:tilburg"]):
                units = 40 if place == "dc:tilburg" else (n + i) % 4
                if units:
                    movements.record_movement(
                        session,
                        MovementCreate(
                            kind=MovementKind.RECEIPT,
                            sku=sku,
                            location=place,
                            quantity=units,
                            reference="ASN-2026-001",
                        ),
                        channel=None,
                        by="demo",
                    )
    safety.set_safety_stock(session, SafetyStockIn(channel="marketplace", quantity=2))


def _order_book(session: Session) -> None:
    """Anna reserves jeans in the app to collect in Amsterdam (waiting at the desk now), and
    bought a rain jacket at the Utrecht till with her loyalty card three days ago."""
    rules = Policy()
    amsterdam = channels.store_code("Amsterdam")
    cart = carts.create_cart(
        session,
        CartCreate(channel="app", customer=f"loyalty_card:{ANNA_CARD}", location=amsterdam),
        key_channel=None,
        by="demo",
    )
    carts.set_line(
        session, cart.cart.id, "JNS-N-32", 1, location=None, add=True, policy=rules, by="demo"
    )
    order = checkout.checkout(
        session,
        cart.cart.id,
        CheckoutIn(
            fulfilment=Fulfilment.COLLECT,
            pickup_location=amsterdam,
            contact=Contact(name="Anna de Vries", email="anna.devries@ziggo.nl"),
        ),
        policy=rules,
        by="demo",
        channel="app",
    )
    orders.mark_ready(
        session,
        order.id,
        collect_within_hours=rules.collect_within_hours,
        by="demo",
        channel=amsterdam,
    )
    till.record_sale(
        session,
        TillSale(
            receipt_id="UT-1-000982",
            sold_at=utcnow() - timedelta(days=3),
            customer=TillCustomer(loyalty_card=ANNA_CARD),
            lines=[TillLine(sku="JAS-W-L", qty=1, unit_price=8995, vat_rate=Decimal(21))],
            payments=[TillPayment(method="card", amount=8995)],
        ),
        key_channel=channels.store_code("Utrecht"),
        by="demo",
    )


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
            "traits": {"loyalty_card": ANNA_CARD, "phone": "06 4123 8765"},
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
