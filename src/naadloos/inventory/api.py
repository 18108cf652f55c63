from __future__ import annotations

import json
import uuid

from fastapi import APIRouter, Depends, Query, Response, status
from pydantic import BaseModel
from sqlalchemy.orm import Session

from naadloos.catalog.schemas import ProductOut, SearchResult, SearchSort
from naadloos.catalog.service import products, variants
from naadloos.catalog.service.search import MAX_LIMIT, MAX_OFFSET, SearchQuery
from naadloos.inventory.schemas import (
    Availability,
    LevelOut,
    LocationCreate,
    LocationKind,
    LocationOut,
    MovementCreate,
    MovementOut,
    ReservationCreate,
    ReservationOut,
    SafetyStockIn,
    SafetyStockOut,
)
from naadloos.inventory.service import availability as atp
from naadloos.inventory.service import (
    levels,
    locations,
    movements,
    reservation_changes,
    reservations,
    safety,
    search,
)
from naadloos.kit.auth import Principal, require
from naadloos.kit.errors import ValidationFailed
from naadloos.kit.http import IDEMPOTENT, TransactionalRoute, get_session
from naadloos.kit.pagination import Page, PageParams, page_params
from naadloos.kit.problems import RESPONSES

router = APIRouter(tags=["inventory"], route_class=TransactionalRoute, responses=RESPONSES)

READ = Depends(require("inventory:read"))
WRITE = require("inventory:write")


@router.post("/v1/locations", status_code=status.HTTP_201_CREATED, dependencies=[IDEMPOTENT])
def create_location(
    data: LocationCreate,
    response: Response,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> LocationOut:
    """A store, warehouse, pickup point or locker, with what it does (sell, ship, pickup,
    returns)."""
    location = locations.create_location(session, data)
    response.headers["Location"] = f"/v1/locations/{location.code}"
    return LocationOut.model_validate(location)


@router.get("/v1/locations", dependencies=[READ])
def list_locations(
    kind: LocationKind | None = None,
    page: PageParams = Depends(page_params),
    session: Session = Depends(get_session),
) -> Page[LocationOut]:
    rows, cursor = locations.list_locations(session, page, kind=kind)
    return Page[LocationOut](
        items=[LocationOut.model_validate(r) for r in rows], next_cursor=cursor
    )


@router.get("/v1/locations/{code}", dependencies=[READ])
def get_location(code: str, session: Session = Depends(get_session)) -> LocationOut:
    return LocationOut.model_validate(locations.get_location(session, code))


@router.post("/v1/stock/movements", status_code=status.HTTP_201_CREATED, dependencies=[IDEMPOTENT])
def record_movement(
    data: MovementCreate,
    response: Response,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> MovementOut:
    """Record a receipt, sale, return, adjustment, count, transfer or damage. A till's sale is
    recorded even below zero (and flagged); with a `reference` it is recorded once (a repeat
    answers 200 with `replayed: true`)."""
    movement = movements.record_movement(
        session, data, channel=principal.channel, by=principal.name
    )
    if movement.replayed:
        response.status_code = status.HTTP_200_OK
    return movement


@router.get("/v1/stock/movements", dependencies=[READ])
def list_movements(
    sku: str | None = None,
    location: str | None = None,
    flagged: bool | None = Query(None, description="true: what drove stock below zero"),
    page: PageParams = Depends(page_params),
    session: Session = Depends(get_session),
) -> Page[MovementOut]:
    """The ledger, oldest first."""
    items, cursor = movements.list_movements(
        session, page, sku=sku, location=location, flagged=flagged
    )
    return Page[MovementOut](items=items, next_cursor=cursor)


@router.get("/v1/stock/levels", dependencies=[READ])
def list_levels(
    sku: str | None = None,
    location: str | None = None,
    negative: bool = Query(False, description="Only levels below zero: to reconcile"),
    page: PageParams = Depends(page_params),
    session: Session = Depends(get_session),
) -> Page[LevelOut]:
    items, cursor = levels.list_levels(session, page, sku=sku, location=location, negative=negative)
    return Page[LevelOut](items=items, next_cursor=cursor)


@router.put("/v1/stock/safety")
def set_safety_stock(
    data: SafetyStockIn,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> SafetyStockOut:
    """Units a channel leaves alone at every location (0 removes it)."""
    return safety.set_safety_stock(session, data)


@router.post(
    "/v1/reservations",
    status_code=status.HTTP_201_CREATED,
    dependencies=[IDEMPOTENT],
    responses={409: {"description": "`insufficient_stock`, with `available`"}},
)
def create_reservation(
    data: ReservationCreate,
    response: Response,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> ReservationOut:
    """Hold stock for `ttl_seconds`: every line or none. Too little stock answers 409
    `insufficient_stock` with the quantity that is available."""
    reservation = reservations.reserve(session, data, by=principal.name)
    response.headers["Location"] = f"/v1/reservations/{reservation.id}"
    return reservation


@router.get("/v1/reservations/{reservation_id}", dependencies=[READ])
def get_reservation(
    reservation_id: uuid.UUID, session: Session = Depends(get_session)
) -> ReservationOut:
    return reservations.reservation_out(
        session, reservations.get_reservation(session, reservation_id)
    )


@router.post("/v1/reservations/{reservation_id}/release", dependencies=[Depends(WRITE)])
def release_reservation(
    reservation_id: uuid.UUID, session: Session = Depends(get_session)
) -> ReservationOut:
    """Give the units back (a hold or an allocation)."""
    return reservation_changes.release(session, reservation_id)


@router.post("/v1/reservations/{reservation_id}/allocate", dependencies=[Depends(WRITE)])
def allocate_reservation(
    reservation_id: uuid.UUID, session: Session = Depends(get_session)
) -> ReservationOut:
    """Turn a hold into an allocation for an order; it no longer expires."""
    return reservation_changes.allocate(session, reservation_id)


@router.post("/v1/reservations/{reservation_id}/fulfil")
def fulfil_reservation(
    reservation_id: uuid.UUID,
    principal: Principal = Depends(WRITE),
    session: Session = Depends(get_session),
) -> ReservationOut:
    """The allocated goods left the location: recorded as a sale in the ledger."""
    return reservation_changes.fulfil(session, reservation_id, by=principal.name)


@router.get("/v1/availability", dependencies=[READ], response_model=Availability)
def get_availability(
    sku: str = Query(max_length=64),
    channel: str = Query(max_length=100),
    near: str | None = Query(
        None, description="`lat,lon`: sort by distance", examples=["52.09,5.12"]
    ),
    radius_km: float | None = Query(None, gt=0, le=20_000),
    session: Session = Depends(get_session),
) -> Response:
    """Available to promise for `channel` at each location, the distance, and whether the
    customer can collect it there, with the total."""
    point = atp.parse_near(near) if near is not None else None
    found = atp.availability(session, sku, channel, near=point, radius_km=radius_km)
    # Plain data built by the service from stored rows: serialised once, not validated again.
    return Response(json.dumps(found, separators=(",", ":")), media_type="application/json")


class ScannedProduct(BaseModel):
    """What a store associate sees after scanning a barcode."""

    sku: str
    gtin: str | None
    product: ProductOut
    availability: Availability


@router.get(
    "/v1/products/by-gtin/{gtin}",
    dependencies=[READ, Depends(require("catalog:read"))],
    tags=["catalog"],
)
def product_by_gtin(
    gtin: str,
    channel: str = Query(
        "web", max_length=100, description="Whose price and availability: the scanner's store"
    ),
    session: Session = Depends(get_session),
) -> ScannedProduct:
    """The barcode scanner in the store: product details, the price and where it is available."""
    variant = variants.variant_by_gtin(session, gtin)
    product = products.product_out(session, variants.product_of(session, variant), channel=channel)
    return ScannedProduct(
        sku=variant.sku,
        gtin=variant.gtin,
        product=product,
        availability=Availability.model_validate(atp.availability(session, variant.sku, channel)),
    )


def _edges(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError as exc:
        raise ValidationFailed.field(
            "price_edges", "give amounts in minor units: 2500,5000"
        ) from exc


@router.get("/v1/search", dependencies=[Depends(require("catalog:read"))], tags=["catalog"])
def search_products(
    *,
    q: str | None = Query(
        None,
        max_length=200,
        description="Words in any order, Dutch or English; the last one may be the start of a word",
        examples=["zwarte jas"],
    ),
    category: list[str] = Query(
        [], description="A category and everything below it (`Dames` has `Dames > Jassen`)"
    ),
    brand: list[str] = Query([], description="One of these brands"),
    price_min: int | None = Query(None, description="Minor units, included"),
    price_max: int | None = Query(None, description="Minor units, included"),
    channel: str | None = Query(
        None, max_length=100, description="Whose price and safety stock: the shop's channel"
    ),
    in_stock_at: str | None = Query(
        None, max_length=100, description="Only products available at this location"
    ),
    location_facet: bool = Query(False, description="Count the matches in stock per location"),
    price_edges: str | None = Query(
        None, description="Edges of the price facet's ranges, minor units", examples=["2500,5000"]
    ),
    sort: SearchSort | None = Query(None, description="`relevance` with `q`, else `name`"),
    limit: int = Query(24, description=f"1 to {MAX_LIMIT}"),
    offset: int = Query(0, description=f"0 to {MAX_OFFSET}"),
    session: Session = Depends(get_session),
) -> SearchResult:
    """Find products by words in their name, brand, category, codes, attributes and
    description, narrowed by category, brand, price and stock at a location, with facets."""
    query = SearchQuery(
        text=q,
        categories=tuple(category),
        brands=tuple(brand),
        price_min=price_min,
        price_max=price_max,
        channel=channel,
        sort=sort,
        limit=limit,
        offset=offset,
        **({} if (edges := _edges(price_edges)) is None else {"price_edges": edges}),
    )
    return search.search(session, query, in_stock_at=in_stock_at, location_facet=location_facet)
