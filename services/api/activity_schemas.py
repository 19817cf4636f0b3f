"""Bodies, answers and examples of the activity routes (`services.api.activity_routes`).

Bodies are strict (an unknown member anywhere is 422 `validation-error`); their codes are
plain strings, checked by the domain's rules (`domain.outreach.activity`), which name the
member by its pointer and never repeat what was sent. `to_domain` turns a body into the plain
domain value, so no API class reaches an event. Every example is synthetic.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import msgspec

from domain.outreach.activity import Activity, AreaServed, AudienceGroup

_SOME = 50  # more members than any rule allows: the domain then names the member


class AudienceGroupIn(AudienceGroup, forbid_unknown_fields=True, frozen=True, kw_only=True):
    pass


class AreaServedIn(AreaServed, forbid_unknown_fields=True, frozen=True, kw_only=True):
    counties: Annotated[tuple[str, ...], msgspec.Meta(max_length=1000)] = ()


class ActivityBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One activity: the whole record (a correction sends the whole corrected record)."""

    held_on: dt.date
    kind: str
    audience: Annotated[tuple[AudienceGroupIn, ...], msgspec.Meta(max_length=_SOME)]
    hours: float
    languages: Annotated[tuple[str, ...], msgspec.Meta(max_length=_SOME)]
    delivery: str
    area: AreaServedIn
    topic: str

    def activity(self) -> Activity:
        return msgspec.convert(msgspec.to_builtins(self), Activity)


class ActivityPatch(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Members of the record to change; a member left out (or null) keeps its value. Each
    member is replaced whole (the audience, the languages, the area)."""

    held_on: dt.date | None = None
    kind: str | None = None
    audience: Annotated[tuple[AudienceGroupIn, ...], msgspec.Meta(max_length=_SOME)] | None = None
    hours: float | None = None
    languages: Annotated[tuple[str, ...], msgspec.Meta(max_length=_SOME)] | None = None
    delivery: str | None = None
    area: AreaServedIn | None = None
    topic: str | None = None

    def applied_to(self, activity: Activity) -> Activity:
        """The whole record with this patch's members replacing its own."""
        changes = {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if getattr(self, name) is not None
        }
        merged = {**msgspec.to_builtins(activity), **msgspec.to_builtins(changes)}
        return msgspec.convert(merged, Activity)


class WithdrawalBody(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """Why the activity is withdrawn: `entered_in_error`, `duplicate`, `did_not_take_place`."""

    reason: str


class ActivityAccepted(msgspec.Struct, frozen=True, kw_only=True):
    """A command's answer: ids and versions only (it is stored with an Idempotency-Key)."""

    activity_id: str
    version: int


class ActivityView(msgspec.Struct, frozen=True, kw_only=True):
    activity_id: str
    version: int
    held_on: dt.date
    kind: str
    audience: list[AudienceGroup]
    participants: int
    hours: float
    languages: list[str]
    delivery: str
    area: AreaServed
    topic: str
    corrections: int
    withdrawn: str | None = None  # the reason, once withdrawn


ACTIVITY_EXAMPLE: dict[str, Any] = {
    "held_on": "2026-03-04",
    "kind": "training",
    "audience": [
        {"sector": "law_enforcement", "participants": 24},
        {"sector": "health_care", "participants": 9},
    ],
    "hours": 3.5,
    "languages": ["en", "es"],
    "delivery": "in_person",
    "area": {"state": "TX", "counties": ["48201", "48157"]},
    "topic": "Recognising labour trafficking indicators",
}
CORRECTION_EXAMPLE: dict[str, Any] = {
    **ACTIVITY_EXAMPLE,
    "audience": [
        {"sector": "law_enforcement", "participants": 26},
        {"sector": "health_care", "participants": 9},
    ],
}
PATCH_EXAMPLE: dict[str, Any] = {"hours": 4, "languages": ["en", "es", "vi"]}
WITHDRAWAL_EXAMPLE: dict[str, Any] = {"reason": "duplicate"}
