"""The body of a case's export (`services.commands.case_export`): the record as the case view
holds it (immigration milestones included), every event of its history decrypted, its access
log, its break-the-glass grants with their reasons and its screenings. The API and `haven
export` give the same JSON (`export_json`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import msgspec

from domain.case.disclosures import Release, releases_by_version
from events.access_log import AccessRecord
from services.api.cases.schemas.views import CaseView, GrantView, case_view
from services.commands.case_export import CaseExport


class ExportedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One event of the case's history: when it was recorded, its type, who recorded it and
    what it holds (its members, decrypted)."""

    version: int
    recorded_at: dt.datetime
    event_type: str
    actor: str | None
    data: dict[str, Any]


class ExportedAccess(msgspec.Struct, frozen=True, kw_only=True):
    """One access record: who read which part of the case, when, on what basis (a
    break-the-glass read names its grant; a disclosure its recipient, categories and consent:
    the survivor's accounting of disclosures)."""

    accessed_at: dt.datetime
    actor_id: str
    role: str
    part: str
    basis: str
    grant_id: str | None
    request_id: str | None
    recipient: str | None = None
    categories: list[str] | None = None
    consent_id: str | None = None
    purpose: str | None = None


class CaseExportView(msgspec.Struct, frozen=True, kw_only=True):
    """Everything held about one case. `history` is oldest first; `access_log` and `grants`
    newest first, the export's own access record first of all."""

    case_id: str
    exported_at: dt.datetime
    exported_by: str
    record: CaseView
    history: list[ExportedEvent]
    access_log: list[ExportedAccess]
    grants: list[GrantView]
    screenings: list[dict[str, Any]] = []  # the case's screenings, oldest day first


def _data(event: Any) -> dict[str, Any]:
    if event is None:
        return {}
    data: dict[str, Any] = msgspec.to_builtins(event)
    data.pop("type", None)  # the event's tag: `event_type`
    return data


def _exported(r: AccessRecord, released: Mapping[int, Release]) -> ExportedAccess:
    release = released.get(r.event_version) if r.event_version is not None else None
    return ExportedAccess(
        accessed_at=r.accessed_at,
        actor_id=r.actor_id,
        role=r.role,
        part=r.part,
        basis=r.basis,
        grant_id=str(r.grant_id) if r.grant_id is not None else None,
        request_id=r.request_id,
        recipient=release.recipient if release else None,
        categories=list(release.categories) if release else None,
        consent_id=release.consent_id if release else None,
        purpose=r.purpose,
    )


def export_view(export: CaseExport) -> CaseExportView:
    released = releases_by_version(export.state, ((e.version, e.event) for e in export.events))
    return CaseExportView(
        case_id=str(export.case_id),
        exported_at=export.exported_at,
        exported_by=export.exported_by,
        record=case_view(export.state, include_immigration=True),
        history=[
            ExportedEvent(
                version=e.version,
                recorded_at=e.recorded_at,
                event_type=e.event_type,
                actor=e.metadata.actor_id if e.metadata is not None else None,
                data=_data(e.event),
            )
            for e in export.events
        ],
        access_log=[_exported(r, released) for r in export.records],
        grants=[GrantView.of(g) for g in export.grants],
        screenings=[_data(screening) for screening in export.screenings],
    )


def export_json(view: CaseExportView) -> bytes:
    """The export as JSON (indented, for a reader as much as a program)."""
    return msgspec.json.format(msgspec.json.encode(view), indent=2) + b"\n"
