from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, StringConstraints

from naadloos.kit.money import DEFAULT_CURRENCY, Currency

Sku = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
ProductCode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
AttributeValue = str | int | float | bool
Attributes = dict[Annotated[str, StringConstraints(min_length=1, max_length=60)], AttributeValue]


class PriceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(ge=0, description="VAT-inclusive, in minor units: 2995 is EUR 29.95")
    currency: Currency = DEFAULT_CURRENCY
    vat_rate: Decimal = Field(
        ge=0, le=100, max_digits=5, decimal_places=2, description="Per cent", examples=["21"]
    )
    valid_from: datetime | None = Field(
        default=None, description="When the price starts; now if left out (history is kept)"
    )


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Sku
    gtin: str | None = Field(default=None, description="EAN-8, UPC-A, EAN-13 or GTIN-14")
    attributes: Attributes = Field(default_factory=dict, examples=[{"size": "M"}])
    price: PriceIn | None = None


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ProductCode = Field(description="The retailer's product number", examples=["P-1001"])
    name: Text
    description: str = Field(default="", max_length=20_000)
    brand: Text | None = None
    category: Text | None = Field(default=None, examples=["Dames > Jassen"])
    attributes: Attributes = Field(default_factory=dict)
    media: list[HttpUrl] = Field(default_factory=list, max_length=50)
    variants: list[VariantIn] = Field(min_length=1, max_length=500)


class PriceOut(BaseModel):
    amount: int
    currency: str
    vat_rate: Decimal
    channel: str | None = Field(description="Set when this is a channel's explicit exception")
    valid_from: datetime


class PriceVersion(BaseModel):
    """One row of a variant's price history; `amount` None ended a channel exception."""

    amount: int | None
    currency: str
    vat_rate: Decimal
    channel: str | None
    valid_from: datetime
    created_at: datetime
    created_by: str | None


class PriceException(BaseModel):
    sku: str
    channel: str
    amount: int
    currency: str
    vat_rate: Decimal
    valid_from: datetime
    base_amount: int | None = Field(description="The one price of every other channel")


class VariantOut(BaseModel):
    sku: str
    gtin: str | None
    attributes: dict[str, AttributeValue]
    price: PriceOut | None


class ProductOut(BaseModel):
    id: uuid.UUID
    code: str
    name: str
    description: str
    brand: str | None
    category: str | None
    attributes: dict[str, AttributeValue]
    media: list[str]
    variants: list[VariantOut]
    created_at: datetime
    updated_at: datetime
