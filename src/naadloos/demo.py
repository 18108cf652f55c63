"""Demo data: a Dutch fashion retailer, "Stijl & Co", with three stores, a webshop, an app,
Instagram, a marketplace, phone, email and WhatsApp. Every capability adds its part here."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from naadloos.channels import service as channels
from naadloos.channels.kinds import ChannelKind
from naadloos.channels.schemas import ChannelCreate, ChannelUpdate
from naadloos.kit import auth

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
    admin = auth.create_key(session, name="demo admin", scopes=[auth.ADMIN])
    till = auth.create_key(
        session,
        name="till 1, Amsterdam",
        scopes=["channels:read", auth.TRACK],
        channel=channels.store_code("Amsterdam"),
    )
    return DemoKeys(admin=admin.key, till_amsterdam=till.key)
