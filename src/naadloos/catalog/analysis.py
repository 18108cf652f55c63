"""Text analysis for product search, Dutch and English, the same on SQLite and PostgreSQL.

Both databases index the text this module writes: each word as typed (folded: lower case, no
diacritics) followed by its Dutch and its English Snowball stem, so "jassen" finds "jas" and
"jackets" finds "jacket". A query is analysed the same way: every word must match in one of its
forms, and the last word also as a prefix (search as you type). Doing the analysis here rather
than in each database's dictionaries keeps the results identical on both (ADR 0008).
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import snowballstemmer

_WORD = re.compile(r"[^\W_]+")
MAX_QUERY_TERMS = 12
MIN_PREFIX = 2

# Words that say nothing about a product; dropped from queries ("jas voor dames"), kept when a
# query has nothing else. Short on purpose: a word a shopper might mean stays searchable.
STOP_WORDS = frozenset(
    """
    de het een en of van voor met in op aan te bij om uit naar als die dat dit deze er
    is zijn was ook maar niet wel tot door over
    the a an and or of for with in on at to by from as is are was be this that these it
    """.split()  # noqa: SIM905 - a paragraph of words reads better than 60 quoted ones
)

_local = threading.local()  # Snowball stemmers keep state while they work: one per thread


def fold(text: str) -> str:
    """Lower case without diacritics: "Geïsoleerde" is "geisoleerde"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def words(text: str) -> list[str]:
    """The folded words (letters and digits) of a text."""
    return _WORD.findall(fold(text))


@lru_cache(maxsize=100_000)
def forms(word: str) -> tuple[str, ...]:
    """A folded word with its Dutch and English stems, without repeats."""
    stemmers = getattr(_local, "stemmers", None)
    if stemmers is None:
        stemmers = _local.stemmers = (
            snowballstemmer.stemmer("dutch"),
            snowballstemmer.stemmer("english"),
        )
    found = [word]
    for stemmer in stemmers:
        stem = str(stemmer.stemWord(word))
        if stem and stem not in found:
            found.append(stem)
    return tuple(found)


def index_text(*texts: str) -> str:
    """What the full-text index holds for some fields: every word with its stems."""
    return " ".join(form for text in texts for word in words(text) for form in forms(word))


def _values(attributes: Mapping[str, Any]) -> Iterable[str]:
    return (str(value) for value in attributes.values() if not isinstance(value, bool))


def document(
    *,
    code: str,
    name: str,
    description: str,
    brand: str | None,
    category: str | None,
    attributes: Mapping[str, Any],
    variants: Iterable[tuple[str, str | None, Mapping[str, Any]]],
) -> dict[str, str]:
    """The searchable fields of a product with its variants `(sku, gtin, attributes)`: name,
    brand, category, codes (product code, SKUs, GTINs), attribute values, description."""
    codes = [code]
    values = list(_values(attributes))
    for sku, gtin, variant_attributes in variants:
        codes.append(sku)
        if gtin:
            codes.append(gtin)
        values.extend(_values(variant_attributes))
    return {
        "name": index_text(name),
        "brand": index_text(brand or ""),
        "category": index_text(category or ""),
        "codes": " ".join(words(" ".join(codes))),  # codes are matched as typed, not stemmed
        "attributes": index_text(" ".join(values)),
        "description": index_text(description),
    }


@dataclass(frozen=True)
class Term:
    """One query word: it matches any of its forms, or any word starting with `prefix`."""

    forms: tuple[str, ...]
    prefix: str | None = None


def query_terms(query: str) -> list[Term]:
    """The terms of a shopper's query; empty when it holds no word at all."""
    found = words(query)[:MAX_QUERY_TERMS]
    meaningful = [w for w in found if w not in STOP_WORDS] or found
    terms = [Term(forms(w)) for w in meaningful]
    if terms and len(meaningful[-1]) >= MIN_PREFIX:
        terms[-1] = Term(terms[-1].forms, prefix=meaningful[-1])
    return terms


def fts5_query(terms: list[Term]) -> str:
    """The terms as an SQLite FTS5 query. Words are letters and digits only, so quoting them
    is all the escaping FTS5 needs."""
    groups = []
    for term in terms:
        options = [f'"{f}"' for f in term.forms]
        if term.prefix is not None:
            options.append(f'"{term.prefix}"*')
        groups.append("(" + " OR ".join(options) + ")")
    return " AND ".join(groups)


def tsquery(terms: list[Term]) -> str:
    """The terms as a PostgreSQL `to_tsquery('simple', ...)` text (letters and digits only)."""
    groups = []
    for term in terms:
        options = list(term.forms)
        if term.prefix is not None:
            options.append(f"{term.prefix}:*")
        groups.append("(" + " | ".join(options) + ")")
    return " & ".join(groups)
