"""The activity form turned into the API's body (`ActivityBody`, the contract), and the
record's faults (`domain.outreach.activity`, named by JSON pointer) placed at the fields
they name.

The audience is one number field per sector (`audience.<sector>`, the participants; a sector
left empty was not reached); languages and counties are codes separated by commas or spaces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import msgspec

from domain.outreach.codes import SECTORS
from services.api.activity_schemas import ActivityBody
from services.console import forms
from services.console.i18n import N_

REQUIRED = ("held_on", "kind", "hours", "delivery", "languages", "state", "topic")
AUDIENCE = "audience."
_SEPARATORS = re.compile(r"[\s,;]+")


def _codes(text: str) -> list[str]:
    return [code for code in _SEPARATORS.split(text.strip()) if code]


def _number(text: str) -> Any:
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text  # refused by the body's type, at its field


def parsed(posted: Mapping[str, str]) -> tuple[ActivityBody | None, dict[str, str]]:
    """The form as the API's body, or the messages by field pointer of what it breaks."""
    value = {name: posted.get(name, "").strip() for name in (*REQUIRED, "counties")}
    missing = {forms.pointer(name): N_("Fill this in.") for name in REQUIRED if not value[name]}
    audience = [
        {"sector": sector, "participants": _number(posted[AUDIENCE + sector].strip())}
        for sector in SECTORS
        if posted.get(AUDIENCE + sector, "").strip()
    ]
    if not audience:
        missing["/audience"] = N_("Give the participants of at least one sector.")
    if missing:
        return None, missing
    members = {
        "held_on": value["held_on"],
        "kind": value["kind"],
        "audience": audience,
        "hours": _number(value["hours"]),
        "languages": _codes(value["languages"]),
        "delivery": value["delivery"],
        "area": {"state": value["state"], "counties": _codes(value["counties"])},
        "topic": value["topic"],
    }
    try:
        return msgspec.convert(members, ActivityBody), {}
    except msgspec.ValidationError as error:
        where, message = forms.conversion_fault(error)
        return None, field_errors([(where, message)], prefix="")


def field_of(where: str) -> str:
    """The pointer of the field a fault's pointer belongs to."""
    parts = where.strip("/").split("/")
    if parts[0] == "area" and len(parts) > 1:
        return "/" + parts[1]  # the state and counties fields
    if parts[0] in ("held_on", "kind", "hours", "delivery", "languages", "topic", "audience"):
        return "/" + parts[0]
    return ""


def field_errors(faults: Iterable[tuple[str, str]], prefix: str = "This ") -> dict[str, str]:
    """Messages by field pointer of the record's (pointer, rule) faults."""
    errors: dict[str, str] = {}
    for where, rule in faults:
        errors.setdefault(field_of(where), f"{prefix}{rule}." if prefix else rule)
    return errors
