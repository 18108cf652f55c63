from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Response, status
from sqlalchemy.orm import Session

from naadloos.catalog.schemas import (
    PriceException,
    PriceIn,
    PriceOut,
    PriceVersion,
    ProductCreate,
    ProductOut,
    ProductUpdate,
)
from naadloos.catalog.service import price_lists, prices, products
from naadloos.kit.auth import Principal, require
from naadloos.kit.http import IDEMPOTENT, TransactionalRoute, get_session
from naadloos.kit.pagination import Page, PageParams, page_params
from naadloos.kit.problems import RESPONSES

router = APIRouter(tags=["catalog"], route_class=TransactionalRoute, responses=RESPONSES)

READ = Depends(require("catalog:read"))
WRITE = require("catalog:write")
CHANNEL = Query(
    None, description="A channel code: its explicit price exception, if it has one", max_length=100
)


@router.post("/v1/products", status_code=status.HTTP_201_CREATED, dependencies=[IDEMPOTENT])
def create_product(
    data: ProductCreate,
    response: Response,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> ProductOut:
    """A product with its variants (SKU, GTIN with a valid check digit) and, optionally, their
    one price."""
    product = products.create_product(session, data, by=principal.name)
    response.headers["Location"] = f"/v1/products/{product.code}"
    return product


@router.get("/v1/products", dependencies=[READ])
def list_products(
    brand: str | None = None,
    category: str | None = None,
    page: PageParams = Depends(page_params),
    session: Session = Depends(get_session),
) -> Page[ProductOut]:
    """Products ordered by code, a page at a time."""
    items, cursor = products.list_products(session, page, brand=brand, category=category)
    return Page[ProductOut](items=items, next_cursor=cursor)


@router.get("/v1/products/{code}", dependencies=[READ])
def get_product(code: str, session: Session = Depends(get_session)) -> ProductOut:
    return products.get_product(session, code)


@router.patch("/v1/products/{code}", dependencies=[Depends(WRITE)])
def update_product(
    code: str, data: ProductUpdate, session: Session = Depends(get_session)
) -> ProductOut:
    """Change a product's name, description, brand, category, attributes or media; search
    finds it by its new words at once."""
    return products.update_product(session, code, data)


@router.get("/v1/variants/{sku}/price", dependencies=[READ])
def get_price(
    sku: str, channel: str | None = CHANNEL, session: Session = Depends(get_session)
) -> PriceOut:
    """The price the variant sells at now, in `channel` if given."""
    return prices.price_of(session, sku, channel=channel)


@router.put("/v1/variants/{sku}/price")
def set_price(
    sku: str,
    data: PriceIn,
    channel: str | None = Query(
        None, max_length=100, description="Make an explicit exception for this channel only"
    ),
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> PriceOut:
    """Set the one price of every channel, or an explicit exception for one channel. The old
    price stays in the history; `valid_from` schedules a price."""
    return prices.set_price(session, sku, data, channel=channel, by=principal.name)


@router.delete("/v1/variants/{sku}/price", status_code=status.HTTP_204_NO_CONTENT)
def end_price_exception(
    sku: str,
    channel: str = Query(max_length=100, description="The channel whose exception ends"),
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> None:
    """End a channel's exception: it sells at the one price again."""
    prices.end_exception(session, sku, channel, by=principal.name)


@router.get("/v1/variants/{sku}/prices", dependencies=[READ])
def price_history(sku: str, session: Session = Depends(get_session)) -> list[PriceVersion]:
    """Every price the variant had, newest first, exceptions included."""
    return price_lists.price_history(session, sku)


@router.get("/v1/prices/exceptions", dependencies=[READ])
def price_exceptions(
    channel: str | None = Query(None, max_length=100), session: Session = Depends(get_session)
) -> list[PriceException]:
    """Every channel price that differs from the one price, in force now."""
    return price_lists.price_exceptions(session, channel=channel)
