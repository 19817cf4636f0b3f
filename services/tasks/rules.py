"""Reading and setting an organisation's follow-up rules (`domain.tasks.rules`).

Each change is a `FollowUpRulesSet` event (the whole set) in the organisation's rules
stream, kept in the deployment's tenant beside the retention policy's stream, so no case
route of any organisation can name it. The stream is the record of who set what and when;
the rules in force are its last event's, or `DEFAULT_RULES` before the first.
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain.event import EventMetadata
from domain.identifiers import is_identifier
from domain.tasks.rules import (
    FollowUpRule,
    FollowUpRules,
    FollowUpRulesSet,
    in_kind_order,
    rules_after,
    rules_faults,
)
from events.errors import StreamNotFound
from events.store import PostgresEventStore

RULES_TENANT = "deployment"


class FollowUpRulesRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The organisation's rules in force, who set them and when (None: the defaults)."""

    organisation_id: str
    rules: FollowUpRules
    set_by: str | None = None
    set_at: dt.datetime | None = None


class RulesRefused(Exception):
    """Values that may not be set: `(field, rule)` each."""

    def __init__(self, faults: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(rule for _, rule in faults))
        self.faults = faults


def rules_stream(organisation_id: str) -> uuid.UUID:
    return uuid.uuid5(
        uuid.NAMESPACE_URL, f"https://haven.example/streams/follow-up-rules/{organisation_id}"
    )


async def current_rules(store: PostgresEventStore, organisation_id: str) -> FollowUpRulesRecord:
    if not is_identifier(organisation_id):
        raise RulesRefused([("organisation_id", "the organisation must be an identifier")])
    try:
        recorded = await store.read_stream(RULES_TENANT, rules_stream(organisation_id))
    except StreamNotFound:
        return FollowUpRulesRecord(organisation_id=organisation_id, rules=rules_after([]))
    events = [
        r.event
        for r in recorded
        if isinstance(r.event, FollowUpRulesSet) and r.event.organisation_id == organisation_id
    ]
    return FollowUpRulesRecord(
        organisation_id=organisation_id,
        rules=rules_after(events),
        set_by=events[-1].set_by if events else None,
        set_at=recorded[-1].recorded_at,
    )


async def set_rules(
    store: PostgresEventStore,
    organisation_id: str,
    rules: tuple[FollowUpRule, ...],
    set_by: str,
) -> FollowUpRulesRecord:
    """Record the organisation's rules (every kind once); `RulesRefused` for values that may
    not be set, `events.errors.ConcurrencyConflict` when another change came first."""
    faults = rules_faults(rules, set_by)
    if not is_identifier(organisation_id):
        faults.append(("organisation_id", "the organisation must be an identifier"))
    if faults:
        raise RulesRefused(faults)
    stream = rules_stream(organisation_id)
    version = await store.stream_version(RULES_TENANT, stream)
    event = FollowUpRulesSet(
        organisation_id=organisation_id, rules=in_kind_order(rules).rules, set_by=set_by
    )
    await store.append(RULES_TENANT, stream, version, [event], EventMetadata(actor_id=set_by))
    return await current_rules(store, organisation_id)
