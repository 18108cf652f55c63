"""A generator of realistic Dutch customer records with known truth, for matching quality.

Each person exists in one to three source systems (the loyalty desk in a store, the web shop,
the app). The copies disagree the way real records do: typos, nicknames, day and month swapped,
missing values, a move to another address, another email. Households make it hard the other way:
people who share a surname and an address, and are not one person.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

FIRST = [
    "Johannes",
    "Cornelis",
    "Pieter",
    "Hendrik",
    "Willem",
    "Jacobus",
    "Maria",
    "Anna",
    "Elisabeth",
    "Johanna",
    "Geertruida",
    "Susanne",
    "Robert",
    "Thomas",
    "Daan",
    "Sem",
    "Lucas",
    "Finn",
    "Emma",
    "Julia",
    "Mila",
    "Tess",
    "Sophie",
    "Zoë",
    "Noah",
    "Levi",
    "Lotte",
    "Sanne",
    "Fleur",
    "Iris",
    "Bram",
    "Thijs",
    "Ruben",
    "Lars",
    "Eva",
    "Lisa",
]
NICK = {
    "Johannes": "Jan",
    "Cornelis": "Kees",
    "Pieter": "Piet",
    "Hendrik": "Henk",
    "Willem": "Wim",
    "Jacobus": "Koos",
    "Maria": "Mieke",
    "Anna": "Anneke",
    "Elisabeth": "Liesbeth",
    "Johanna": "Hanneke",
    "Geertruida": "Truus",
    "Susanne": "Sanne",
    "Robert": "Rob",
    "Thomas": "Tom",
}
LAST = [
    "de Jong",
    "Jansen",
    "de Vries",
    "van den Berg",
    "van Dijk",
    "Bakker",
    "Janssen",
    "Visser",
    "Smit",
    "Meijer",
    "de Boer",
    "Mulder",
    "de Groot",
    "Bos",
    "Vos",
    "Peters",
    "Hendriks",
    "van Leeuwen",
    "Dekker",
    "Brouwer",
    "de Wit",
    "Dijkstra",
    "Smits",
    "de Graaf",
    "van der Meer",
    "van der Linden",
    "Kok",
    "Jacobs",
    "de Haan",
    "Vermeulen",
    "van den Heuvel",
    "van der Veen",
    "van den Broek",
    "de Bruijn",
    "de Bruin",
    "van der Heijden",
    "Schouten",
    "van Beek",
    "Willems",
    "van Vliet",
    "van de Ven",
    "Hoekstra",
    "Maas",
    "Verhoeven",
    "Koster",
    "van Dam",
    "van der Wal",
    "Prins",
    "Blom",
    "Huisman",
    "Peeters",
    "de Jonge",
    "Kuipers",
    "van Veen",
    "Post",
    "Kuiper",
    "Veenstra",
]
STREETS = [
    "Oudegracht",
    "Kerkstraat",
    "Dorpsstraat",
    "Stationsweg",
    "Molenstraat",
    "Schoolstraat",
    "Julianastraat",
    "Wilhelminastraat",
    "Beatrixlaan",
    "Parallelweg",
    "Hoofdstraat",
    "Emmastraat",
    "Nieuwstraat",
    "Marktplein",
    "Lindelaan",
]
CITIES = [
    ("Utrecht", 35),
    ("Amsterdam", 10),
    ("Rotterdam", 30),
    ("Delft", 26),
    ("Gouda", 28),
    ("Ede", 67),
    ("Zwolle", 80),
    ("Haarlem", 20),
    ("Leiden", 23),
    ("Breda", 48),
]
MAILS = ["ziggo.nl", "kpn.nl", "gmail.com", "hotmail.com", "outlook.com", "xs4all.nl"]
SOURCES = ["store:utrecht", "web", "app"]


@dataclass(frozen=True)
class Record:
    truth: int  # the person the record is of
    source: str
    external_id: str
    values: dict[str, str]


def _address(rng: random.Random) -> dict[str, str]:
    city, area = rng.choice(CITIES)
    return {
        "street": rng.choice(STREETS),
        "house_number": str(rng.randint(1, 180)),
        "postcode": f"{area}{rng.randint(10, 99)} {rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}"
        f"{rng.choice('ABCDEFGHJKLMNPRSTVWXZ')}",
        "city": city,
    }


def _typo(rng: random.Random, text: str) -> str:
    if len(text) < 4:
        return text
    i = rng.randrange(1, len(text) - 1)
    kind = rng.random()
    if kind < 0.4:
        return text[:i] + text[i + 1 :]  # a letter dropped
    if kind < 0.7:
        return text[:i] + text[i] + text[i:]  # a letter doubled
    return text[: i - 1] + text[i] + text[i - 1] + text[i + 1 :]  # two letters swapped


def _unique(taken: set[str], make: Callable[[], str]) -> str:
    """A mailbox or phone number has one owner: draw again until it is a new one."""
    value = make()
    while value in taken:
        value = make()
    taken.add(value)
    return value


def _person(
    rng: random.Random, household: dict[str, str] | None, taken: set[str]
) -> dict[str, str]:
    born = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 65))
    first = rng.choice(FIRST)
    base = dict(household) if household else {"last_name": rng.choice(LAST), **_address(rng)}
    surname = base["last_name"].replace(" ", "").lower()
    email = _unique(
        taken, lambda: f"{first.lower()}.{surname}{rng.randint(1, 999)}@{rng.choice(MAILS)}"
    )
    phone = _unique(taken, lambda: f"06{rng.choice('1235')}{rng.randint(1_000_000, 9_999_999)}")
    return {
        "first_name": first,
        "birth_date": born.isoformat(),
        "email": email,
        "phone": phone,
        **base,
    }


def _copy(
    rng: random.Random, person: dict[str, str], first_copy: bool, taken: set[str]
) -> dict[str, str]:
    """A source system's version of the person."""
    values = dict(person)
    if first_copy:
        return values
    if rng.random() < 0.15 and values["first_name"] in NICK:
        values["first_name"] = NICK[values["first_name"]]
    if rng.random() < 0.12:
        values["last_name"] = _typo(rng, values["last_name"])
    if rng.random() < 0.10:
        values["first_name"] = _typo(rng, values["first_name"])
    born = date.fromisoformat(values["birth_date"])
    roll = rng.random()
    if roll < 0.18:
        values.pop("birth_date")
    elif roll < 0.22 and born.day <= 12 and born.day != born.month:
        values["birth_date"] = born.replace(month=born.day, day=born.month).isoformat()
    if rng.random() < 0.15:
        values.update(_address(rng))  # moved
    elif rng.random() < 0.05:
        values["postcode"] = values["postcode"][:4] + " " + values["postcode"][-2:][::-1]
    roll = rng.random()
    if roll < 0.35:
        values.pop("email")
    elif roll < 0.65:
        # Another address of the same person: personal, so unique to them.
        first = values["first_name"].lower()
        values["email"] = _unique(
            taken, lambda: f"{first}.{rng.randint(1000, 99999)}@{rng.choice(MAILS)}"
        )
    if rng.random() < 0.5:
        values.pop("phone", None)
    if rng.random() < 0.1:
        values.pop("street", None)
        values.pop("house_number", None)
    return values


def generate(persons: int, seed: int = 42) -> list[Record]:
    """Records of `persons` people, shuffled; about 1.6 records a person; a fifth of the people
    live with another person of the set (same surname and address)."""
    rng = random.Random(seed)
    records: list[Record] = []
    people: list[dict[str, str]] = []
    taken: set[str] = set()
    for pid in range(persons):
        housemate = people[-1] if people and rng.random() < 0.2 else None
        household = None
        if housemate is not None:
            household = {
                k: housemate[k] for k in ("last_name", "street", "house_number", "postcode", "city")
            }
        person = _person(rng, household, taken)
        people.append(person)
        copies = rng.choices([1, 2, 3], weights=[5, 4, 1])[0]
        for n, source in enumerate(rng.sample(SOURCES, copies)):
            records.append(
                Record(pid, source, f"{source}-{pid}-{n}", _copy(rng, person, n == 0, taken))
            )
    rng.shuffle(records)
    return records


def true_pairs(records: list[Record]) -> set[frozenset[str]]:
    by_person: dict[int, list[str]] = {}
    for r in records:
        by_person.setdefault(r.truth, []).append(r.external_id)
    return {
        frozenset((a, b))
        for ids in by_person.values()
        for i, a in enumerate(ids)
        for b in ids[i + 1 :]
    }
