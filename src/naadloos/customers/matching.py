"""Probabilistic record linkage (Fellegi-Sunter) for persons who share no identifier: a
loyalty form in a store and a web account with typos, a nickname, a moved address.

Each field comparison lands on a level (exact, close, different, missing) with a weight
log2(m/u): m is how often the level occurs for records of the same person, u for records of
different persons. The sum of the weights is the evidence for a match. Candidates are found by
blocking keys, so a record is compared with a handful of others, not with everyone.
The m and u values are priors for Dutch retail customer data, documented in ADR 0006.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from typing import Any

from rapidfuzz.distance import OSA, JaroWinkler, Levenshtein

# Dutch and English nicknames -> the name they stand for.
NICKNAMES = {
    "jan": "johannes",
    "johan": "johannes",
    "hans": "johannes",
    "joop": "johannes",
    "kees": "cornelis",
    "cees": "cornelis",
    "piet": "pieter",
    "henk": "hendrik",
    "wim": "willem",
    "klaas": "nicolaas",
    "toon": "antonius",
    "ton": "antonius",
    "guus": "gustaaf",
    "dirk": "diederik",
    "bert": "albertus",
    "gert": "gerardus",
    "geert": "gerardus",
    "sjaak": "jacobus",
    "koos": "jacobus",
    "jaap": "jacobus",
    "mieke": "maria",
    "ria": "maria",
    "marieke": "maria",
    "mia": "maria",
    "truus": "geertruida",
    "trudy": "geertruida",
    "lies": "elisabeth",
    "liesbeth": "elisabeth",
    "bep": "elisabeth",
    "betty": "elisabeth",
    "liz": "elizabeth",
    "beth": "elizabeth",
    "annie": "anna",
    "anneke": "anna",
    "jo": "johanna",
    "hanneke": "johanna",
    "sanne": "susanne",
    "suus": "susanne",
    "bob": "robert",
    "rob": "robert",
    "robbie": "robert",
    "bill": "william",
    "will": "william",
    "tom": "thomas",
    "tommy": "thomas",
    "mike": "michael",
    "chris": "christiaan",
    "stef": "stefan",
    "nick": "nicolaas",
    "kim": "kimberley",
    "fleur": "fleur",
    "daan": "daniel",
    "dani": "daniel",
}
PARTICLES = {"van", "de", "der", "den", "ten", "ter", "te", "het", "la", "le", "du", "van't"}


def plain(text: object) -> str:
    """Lower case, accents off, only letters, digits and single spaces."""
    if text is None:
        return ""
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", ascii_text.lower()).strip()


def first_name(text: object) -> str:
    name = plain(text).split(" ")[0] if plain(text) else ""
    return NICKNAMES.get(name, name)


def first_name_forms(text: object) -> frozenset[str]:
    """The ways a first name may be written: as given, the name a nickname stands for, and
    the name a misspelt nickname stands for (`Hnek` -> `hendrik`)."""
    name = plain(text).split(" ")[0] if plain(text) else ""
    if not name:
        return frozenset()
    forms = {name, NICKNAMES.get(name, name)}
    if len(name) >= 4 and name not in NICKNAMES:
        forms.update(
            full
            for nick, full in NICKNAMES.items()
            if len(nick) >= 4 and OSA.distance(name, nick) == 1
        )
    return frozenset(forms)


def last_name(text: object) -> str:
    """The surname without its particles: `van der Berg` -> `berg`."""
    words = [w for w in plain(text).split(" ") if w and w not in PARTICLES]
    return "".join(words)


def last_name_written(text: object) -> str:
    """The whole surname without spaces: `van denHeuvel` and `van den Heuvel` are one."""
    return plain(text).replace(" ", "")


def postcode(text: object) -> str:
    return plain(text).replace(" ", "").upper()


def birth_date(text: object) -> date | None:
    try:
        return date.fromisoformat(str(text)) if text else None
    except ValueError:
        return None


@dataclass(frozen=True)
class Features:
    """What matching looks at, normalised, taken from a person's traits and identifiers."""

    first_name: str
    last_name: str
    first_forms: frozenset[str]
    last_written: str
    birth_date: date | None
    postcode: str
    street: str
    house_number: str
    city: str
    emails: frozenset[str]
    phones: frozenset[str]

    @classmethod
    def of(cls, traits: dict[str, Any], emails: set[str], phones: set[str]) -> Features:
        return cls(
            first_name=first_name(traits.get("first_name")),
            last_name=last_name(traits.get("last_name")),
            first_forms=first_name_forms(traits.get("first_name")),
            last_written=last_name_written(traits.get("last_name")),
            birth_date=birth_date(traits.get("birth_date")),
            postcode=postcode(traits.get("postcode")),
            street=plain(traits.get("street")),
            house_number=plain(traits.get("house_number")),
            city=plain(traits.get("city")),
            emails=frozenset(emails),
            phones=frozenset(phones),
        )

    def matchable(self) -> bool:
        """Enough to say anything: a surname and one of birth date, postcode or first name."""
        return bool(self.last_name) and bool(self.birth_date or self.postcode or self.first_name)

    def blocking_keys(self) -> set[str]:
        keys: set[str] = set()
        if self.birth_date:
            keys.add(f"b:{self.birth_date.isoformat()}")
            if self.last_name:
                keys.add(f"ly:{self.last_name[:3]}:{self.birth_date.year}")
        if self.postcode and self.last_name:
            keys.add(f"pl:{self.postcode}:{self.last_name[:2]}")
        if self.postcode and self.house_number:
            keys.add(f"ph:{self.postcode}:{self.house_number}")
        if self.first_name and self.last_name:
            keys.add(f"fl:{self.first_name[:3]}:{self.last_name[:4]}")
        return keys


def _w(m: float, u: float) -> float:
    return math.log2(m / u)


# (level weights) per field: exact, close, different. Missing on either side weighs 0.
WEIGHTS: dict[str, tuple[float, float, float]] = {
    "first_name": (_w(0.88, 0.01), _w(0.08, 0.01), _w(0.04, 0.98)),
    "last_name": (_w(0.90, 0.002), _w(0.07, 0.004), _w(0.03, 0.994)),
    "birth_date": (_w(0.94, 0.0002), _w(0.04, 0.002), _w(0.02, 0.9978)),
    # Where someone lives is one field: street, number, postcode and city are not independent.
    # Exact: same street and number in the same postcode; close: same postcode area or city.
    "location": (_w(0.70, 0.001), _w(0.12, 0.04), _w(0.18, 0.959)),
    "email": (_w(0.60, 0.00001), 0.0, _w(0.40, 0.99999)),
    "phone": (_w(0.60, 0.00001), 0.0, _w(0.40, 0.99999)),
}
EXACT, CLOSE, DIFFERENT = 0, 1, 2


def _similar(a: str, b: str) -> bool:
    """One slip of the keyboard apart (in a name long enough to tell), or close by Jaro-Winkler."""
    return (min(len(a), len(b)) >= 4 and OSA.distance(a, b) <= 1) or JaroWinkler.similarity(
        a, b
    ) >= 0.9


def _first_names(a: Features, b: Features) -> int | None:
    if not a.first_name or not b.first_name:
        return None
    if a.first_name == b.first_name:
        return EXACT
    if a.first_forms & b.first_forms:
        return CLOSE  # a misspelt nickname
    same = any(_similar(x, y) for x in a.first_forms for y in b.first_forms)
    return CLOSE if same else DIFFERENT


def _last_names(a: Features, b: Features) -> int | None:
    if not a.last_name or not b.last_name:
        return None
    if a.last_name == b.last_name or a.last_written == b.last_written:
        return EXACT
    if JaroWinkler.similarity(a.last_name, b.last_name) >= 0.9:
        return CLOSE
    # A slip in a particle (`vn der Veen`) or the space before the name (`van liet`).
    return CLOSE if OSA.distance(a.last_written, b.last_written) <= 1 else DIFFERENT


def _dates(a: date | None, b: date | None) -> int | None:
    if a is None or b is None:
        return None
    if a == b:
        return EXACT
    swapped = a.day == b.month and a.month == b.day and a.year == b.year
    one_typo = Levenshtein.distance(a.isoformat(), b.isoformat()) == 1
    return CLOSE if swapped or one_typo else DIFFERENT


def _sets(a: frozenset[str], b: frozenset[str]) -> int | None:
    if not a or not b:
        return None
    return EXACT if a & b else DIFFERENT


def _location(a: Features, b: Features) -> int | None:
    if not (a.postcode or a.city) or not (b.postcode or b.city):
        return None
    same_area = bool(a.postcode and b.postcode and a.postcode[:4] == b.postcode[:4])
    same_door = bool(a.house_number) and a.house_number == b.house_number
    same_street = not (a.street and b.street) or JaroWinkler.similarity(a.street, b.street) >= 0.9
    if same_area and same_door and same_street:
        return EXACT
    if same_area or (a.city and a.city == b.city):
        return CLOSE
    return DIFFERENT


def compare(a: Features, b: Features) -> dict[str, int | None]:
    """The level of each field comparison (None: missing on a side)."""
    return {
        "first_name": _first_names(a, b),
        "last_name": _last_names(a, b),
        "birth_date": _dates(a.birth_date, b.birth_date),
        "location": _location(a, b),
        "email": _sets(a.emails, b.emails),
        "phone": _sets(a.phones, b.phones),
    }


def same_individual(levels: dict[str, int | None]) -> bool:
    """The household guard: people who live together share a surname and an address, which
    Fellegi-Sunter's independence assumption counts twice. An automatic merge also needs the
    first names to agree and the birth dates not to differ."""
    return levels["first_name"] in (EXACT, CLOSE) and levels["birth_date"] != DIFFERENT


def score(levels: dict[str, int | None]) -> float:
    """The match weight: the sum of log2(m/u) over the fields both sides have."""
    return sum(WEIGHTS[field][level] for field, level in levels.items() if level is not None)


def features_missing(levels: dict[str, int | None]) -> list[str]:
    """The fields that could not be compared (missing on a side)."""
    return [f for f, level in levels.items() if level is None]
