"""What a client can be found by within an organisation: normalised names, date of birth, phone.

A search and the blind index (`crypto.blind_index`, `projections.case_finder`) compare
*normalised* values, so that the spellings a worker types for the same person meet:

* a name: Unicode NFKD, accents (combining marks) dropped, case folded, every run of
  characters other than letters and digits made one space, trimmed ("  José-María  O'Neil"
  and "jose maria o neil" are one name);
* a date of birth: ISO 8601 (``1990-04-17``);
* a phone number: its digits, E.164-like: a leading ``00`` (international prefix) dropped, a
  ten-digit number read as North American (``1`` in front), 8 to 15 digits kept, anything
  else refused ("(555) 010-7788", "+1 555 010 7788" and "15550107788" are one number).

Only exact matches of normalised values are found: a blind index cannot answer a prefix or
a misspelling. The terms of a case are its preferred and legal names (field ``name``), its
aliases (``alias``), its date of birth and the numbers of its phone and text channels.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from typing import Literal

from domain.case.values import Identity, SafeContact

Field = Literal["name", "alias", "date_of_birth", "phone"]
FIELDS: tuple[Field, ...] = ("name", "alias", "date_of_birth", "phone")
PHONE_CHANNELS = frozenset({"phone_call", "text_message"})
MIN_PHONE_DIGITS = 8
MAX_PHONE_DIGITS = 15
MAX_NAME_LENGTH = 200

Term = tuple[Field, str]  # (field, normalised value)
Criterion = tuple[Field, frozenset[Term]]  # (what was searched by, terms any of which matches)


def normalise_name(text: str) -> str | None:
    """The comparable form of a name (module doc); None when nothing of it is left."""
    if len(text) > MAX_NAME_LENGTH:
        return None
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        ch if ch.isalnum() else " " for ch in decomposed if not unicodedata.combining(ch)
    )
    folded = " ".join(kept.casefold().split())
    return folded or None


def normalise_date_of_birth(day: dt.date) -> str:
    return day.isoformat()


def normalise_phone(text: str) -> str | None:
    """The comparable form of a phone number (module doc); None when it is not one."""
    if len(text) > 40:
        return None
    digits = "".join(ch for ch in text if ch.isdigit() and ch.isascii())
    if not text.lstrip().startswith("+") and digits.startswith("00"):
        digits = digits[2:]
    if len(digits) == 10 and not text.lstrip().startswith("+"):
        digits = "1" + digits
    if not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        return None
    return "+" + digits


def case_terms(identity: Identity | None, contact: SafeContact | None) -> frozenset[Term]:
    """Everything a case can be found by, normalised (what the blind index holds, keyed)."""
    terms: set[Term] = set()
    if identity is not None:
        for name in (identity.preferred_name, identity.legal_name):
            if name and (normalised := normalise_name(name)):
                terms.add(("name", normalised))
        for alias in identity.aliases:
            if normalised := normalise_name(alias):
                terms.add(("alias", normalised))
        if identity.date_of_birth is not None:
            terms.add(("date_of_birth", normalise_date_of_birth(identity.date_of_birth)))
    if contact is not None:
        for channel in contact.channels:
            if channel.channel in PHONE_CHANNELS and channel.detail:
                if phone := normalise_phone(channel.detail):
                    terms.add(("phone", phone))
    return frozenset(terms)


def duplicate_probes(terms: frozenset[Term]) -> list[list[Criterion]]:
    """The searches that find the cases an intake likely duplicates: one of its names or
    aliases with its date of birth, or one of its phone numbers (each a list of criteria, as
    `search_criteria` makes). A name alone is too common to warn about."""
    names = {value for field, value in terms if field in ("name", "alias")}
    births = frozenset(term for term in terms if term[0] == "date_of_birth")
    phones = frozenset(term for term in terms if term[0] == "phone")
    probes: list[list[Criterion]] = []
    if names and births:
        any_name = frozenset((field, name) for name in names for field in ("name", "alias"))
        probes.append([("name", any_name), ("date_of_birth", births)])  # type: ignore[list-item]
    if phones:
        probes.append([("phone", phones)])
    return probes


class UnusableSearchTerm(ValueError):
    """A search value that normalises to nothing (no letter or digit, not a phone number)."""

    def __init__(self, field: Field) -> None:
        super().__init__(field)
        self.field = field


def search_criteria(
    *,
    name: str | None = None,
    alias: str | None = None,
    date_of_birth: dt.date | None = None,
    phone: str | None = None,
) -> list[Criterion]:
    """What a search asks, every criterion to be met by a case: ``name`` matches any of the
    case's names or aliases, ``alias`` its aliases only. `UnusableSearchTerm` for a value that
    normalises to nothing; ValueError when nothing is asked."""
    criteria: list[Criterion] = []
    if name is not None:
        if (normalised := normalise_name(name)) is None:
            raise UnusableSearchTerm("name")
        criteria.append(("name", frozenset({("name", normalised), ("alias", normalised)})))
    if alias is not None:
        if (normalised := normalise_name(alias)) is None:
            raise UnusableSearchTerm("alias")
        criteria.append(("alias", frozenset({("alias", normalised)})))
    if date_of_birth is not None:
        criteria.append(
            (
                "date_of_birth",
                frozenset({("date_of_birth", normalise_date_of_birth(date_of_birth))}),
            )
        )
    if phone is not None:
        if (normalised := normalise_phone(phone)) is None:
            raise UnusableSearchTerm("phone")
        criteria.append(("phone", frozenset({("phone", normalised)})))
    if not criteria:
        raise ValueError("a search names at least one of name, alias, date_of_birth, phone")
    return criteria
