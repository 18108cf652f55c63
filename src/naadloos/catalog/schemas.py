from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
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


class ProductUpdate(BaseModel):
    """The fields to change; a field left out stays as it is, `null` clears brand or category.
    Variants and prices have their own calls."""

    model_config = ConfigDict(extra="forbid")

    name: Text | None = None
    description: str | None = Field(default=None, max_length=20_000)
    brand: Text | None = None
    category: Text | None = None
    attributes: Attributes | None = None
    media: list[HttpUrl] | None = Field(default=None, max_length=50)


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


class SearchSort(StrEnum):
    RELEVANCE = "relevance"
    NAME = "name"
    PRICE_ASC = "price_asc"
    PRICE_DESC = "price_desc"
    NEWEST = "newest"


class SearchHit(BaseModel):
    code: str
    name: str
    brand: str | None
    category: str | None
    media: list[str]
    skus: list[str]
    price: PriceOut | None = Field(description="The lowest price of its variants, now")
    score: float = Field(description="Relevance to the query: higher is better; 0 without one")


class FacetValue(BaseModel):
    value: str
    count: int


class PriceRange(BaseModel):
    min_amount: int = Field(description="From this amount (minor units), included")
    max_amount: int | None = Field(description="Up to this amount, excluded; None: no limit")
    count: int


class Facets(BaseModel):
    """Counts of the products that match everything asked except the facet's own filter, so a
    shop can offer the other brands (categories, ...) next to the chosen one."""

    category: list[FacetValue]
    brand: list[FacetValue]
    price: list[PriceRange]
    location: list[FacetValue] | None = Field(
        default=None, description="Products in stock per location; only when asked for"
    )


class SearchResult(BaseModel):
    total: int
    items: list[SearchHit]
    facets: Facets
