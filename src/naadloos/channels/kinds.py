"""Kinds of channel and the capabilities a customer can use through them."""

from __future__ import annotations

from enum import StrEnum


class ChannelKind(StrEnum):
    STORE = "store"
    WEB = "web"
    APP = "app"
    SOCIAL = "social"
    MARKETPLACE = "marketplace"
    PHONE = "phone"
    EMAIL = "email"
    SMS = "sms"
    CHAT = "chat"
    KIOSK = "kiosk"


class Capability(StrEnum):
    BROWSE = "browse"  # see products, prices and stock
    BUY = "buy"  # place an order
    PAY = "pay"  # pay for an order
    PICKUP = "pickup"  # collect an order
    RETURN = "return"  # hand in or start a return
    SUPPORT = "support"  # talk to customer service
    NOTIFY = "notify"  # receive messages from the retailer


ALL_CAPABILITIES = tuple(Capability)

# Goods can only be collected where there is a physical place to hand them over.
PHYSICAL_ONLY = frozenset({Capability.PICKUP})
PHYSICAL_KINDS = frozenset({ChannelKind.STORE, ChannelKind.KIOSK})

# What a new channel of a kind offers when the retailer does not say.
DEFAULT_CAPABILITIES: dict[ChannelKind, tuple[Capability, ...]] = {
    ChannelKind.STORE: (
        Capability.BROWSE,
        Capability.BUY,
        Capability.PAY,
        Capability.PICKUP,
        Capability.RETURN,
        Capability.SUPPORT,
    ),
    ChannelKind.WEB: (
        Capability.BROWSE,
        Capability.BUY,
        Capability.PAY,
        Capability.RETURN,
        Capability.SUPPORT,
    ),
    ChannelKind.APP: (
        Capability.BROWSE,
        Capability.BUY,
        Capability.PAY,
        Capability.RETURN,
        Capability.SUPPORT,
        Capability.NOTIFY,
    ),
    ChannelKind.SOCIAL: (Capability.BROWSE, Capability.SUPPORT, Capability.NOTIFY),
    ChannelKind.MARKETPLACE: (Capability.BROWSE, Capability.BUY, Capability.PAY),
    ChannelKind.PHONE: (Capability.BUY, Capability.SUPPORT, Capability.NOTIFY),
    ChannelKind.EMAIL: (Capability.SUPPORT, Capability.NOTIFY),
    ChannelKind.SMS: (Capability.SUPPORT, Capability.NOTIFY),
    ChannelKind.CHAT: (Capability.SUPPORT, Capability.NOTIFY),
    ChannelKind.KIOSK: (Capability.BROWSE, Capability.BUY, Capability.PAY, Capability.PICKUP),
}
