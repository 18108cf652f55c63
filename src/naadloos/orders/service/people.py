"""The customer behind an identifier an order-book call names (`customer=email:...`)."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from naadloos.customers.service import profiles
from naadloos.customers.service.profiles import PersonNotFound
from naadloos.kit.errors import ValidationFailed


def person_of(session: Session, identifier: str, field: str = "customer") -> uuid.UUID:
    """The person `identifier` belongs to now; a bad or unknown one is a 422/404 naming
    `field`."""
    try:
        return profiles.find_by_identifier(session, identifier).id
    except ValidationFailed as exc:
        raise ValidationFailed.field(field, exc.detail) from exc
    except PersonNotFound as exc:
        raise PersonNotFound(exc.detail, field=field) from exc


def ids_of(session: Session, identifier: str, field: str = "customer") -> list[uuid.UUID]:
    """The person's id first, then those of profiles merged into them: what orders, carts and
    store credit may have been recorded under."""
    return profiles.known_ids(session, person_of(session, identifier, field))
