"""The screening form: an instrument's items grouped by indicator domain, each answered yes, no
or unknown (or left unasked), turned into the API's body (`ScreeningBody`, the contract) with
its faults placed at the fields they name.

The instruments are those the organisation may screen with (`GET /v1/instruments`'s data,
`services.screening.instruments`). The form asks nothing about the person but `minor`
(yes / no / unknown, for an instrument that asks it): a screening standing alone holds no
identifying data at all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import msgspec

from domain.screening.instrument import IndicatorDomain, Instrument, Item
from domain.screening.screening import SETTINGS
from services.api.screening_routes import ScreeningBody
from services.console import forms
from services.console.i18n import N_

SETTING_LABELS = {
    "shelter_intake": N_("Shelter intake"),
    "clinic": N_("Clinic"),
    "hotline": N_("Hotline"),
    "outreach": N_("Outreach"),
    "law_enforcement_referral": N_("Law enforcement referral"),
    "school": N_("School"),
    "child_welfare": N_("Child welfare"),
    "legal_services": N_("Legal services"),
    "other": N_("Other setting"),
}
RESULT_LABELS = {
    "no_indicators": N_("No indicators"),
    "indicators_present": N_("Indicators present: refer for a full assessment"),
    "strong_indicators": N_("Strong indicators"),
    "confirmed": N_("Confirmed"),
}
ANSWERS = [("yes", N_("Yes")), ("no", N_("No")), ("unknown", N_("Unknown"))]
ITEM_PREFIX = "item."
assert set(SETTING_LABELS) == set(SETTINGS)


class DomainItems(NamedTuple):
    domain: IndicatorDomain
    items: tuple[Item, ...]


def grouped(instrument: Instrument) -> list[DomainItems]:
    """The instrument's items by indicator domain, in the instrument's order."""
    return [
        DomainItems(domain, tuple(i for i in instrument.items if i.domain == domain.id))
        for domain in instrument.domains
    ]


def instrument_key(instrument: Instrument) -> str:
    return f"{instrument.id}:{instrument.version}"


def chosen(instruments: list[Instrument], key: str | None) -> Instrument | None:
    """The instrument `key` (`id:version`) names, or the first one offered."""
    for instrument in instruments:
        if key is None or instrument_key(instrument) == key:
            return instrument
    return None


def parsed(
    instrument: Instrument, posted: Mapping[str, str], case_id: str | None
) -> tuple[ScreeningBody | None, dict[str, str]]:
    """The form as the API's body, or the messages by field pointer of what it breaks."""
    missing = {
        forms.pointer(name): N_("Fill this in.")
        for name in ("screened_on", "setting")
        if not posted.get(name, "").strip()
    }
    if missing:
        return None, missing
    members: dict[str, Any] = {
        "instrument_id": instrument.id,
        "instrument_version": instrument.version,
        "screened_on": posted["screened_on"].strip(),
        "setting": posted["setting"].strip(),
        "minor": posted.get("minor", "").strip() or "unknown",
        "indicators": [
            {"item": item.id, "answer": answer}
            for item in instrument.items
            if (answer := posted.get(ITEM_PREFIX + item.id, "").strip())
        ],
    }
    if case_id is not None:
        members["case_id"] = case_id
    try:
        return msgspec.convert(members, ScreeningBody), {}
    except msgspec.ValidationError as error:
        where, message = forms.conversion_fault(error)
        return None, field_errors(members["indicators"], [(where, message)], prefix="")


def field_errors(
    indicators: list[dict[str, str]] | tuple[Any, ...],
    faults: Iterable[tuple[str, str]],
    prefix: str = "This ",
) -> dict[str, str]:
    """Messages by field pointer of (pointer, rule) faults; an indicator's fault is its item's
    field's, any other unknown member's is shown above the form ("")."""
    errors: dict[str, str] = {}
    for where, rule in faults:
        parts = where.strip("/").split("/")
        if parts[0] == "indicators" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            found = indicators[index] if index < len(indicators) else None
            item = found["item"] if isinstance(found, dict) else getattr(found, "item", None)
            field = forms.pointer(ITEM_PREFIX + item) if item else ""
        elif parts[0] in ("screened_on", "setting", "minor"):
            field = "/" + parts[0]
        else:
            field = ""
        errors.setdefault(field, f"{prefix}{rule}." if prefix else rule)
    return errors
