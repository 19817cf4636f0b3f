"""Reading and setting an organisation's retention policy (`domain.retention`).

Each change is a `RetentionPolicySet` event in the organisation's policy stream, kept in the
deployment's tenant beside the disclosure policy's stream, so no case route of any
organisation can name it. The stream is the record of who set what and when; the policy in
force is its last event.
"""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from domain.event import EventMetadata
from domain.identifiers import is_identifier
from domain.retention import RetentionPolicy, RetentionPolicySet, policy_after, policy_faults
from events.errors import StreamNotFound
from events.store import PostgresEventStore

POLICY_TENANT = "deployment"


class RetentionPolicyRecord(msgspec.Struct, frozen=True, kw_only=True):
    """The organisation's policy in force (None: keep everything), who set it and when."""

    organisation_id: str
    policy: RetentionPolicy | None
    set_by: str | None = None
    set_at: dt.datetime | None = None


class PolicyRefused(Exception):
    """Values that may not be set: `(field, rule)` each."""

    def __init__(self, faults: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(rule for _, rule in faults))
        self.faults = faults


def policy_stream(organisation_id: str) -> uuid.UUID:
    return uuid.uuid5(
        uuid.NAMESPACE_URL, f"https://haven.example/streams/retention-policy/{organisation_id}"
    )


async def current_policy(store: PostgresEventStore, organisation_id: str) -> RetentionPolicyRecord:
    if not is_identifier(organisation_id):
        raise PolicyRefused([("organisation_id", "the organisation must be an identifier")])
    try:
        recorded = await store.read_stream(POLICY_TENANT, policy_stream(organisation_id))
    except StreamNotFound:
        return RetentionPolicyRecord(organisation_id=organisation_id, policy=None)
    events = [
        r.event
        for r in recorded
        if isinstance(r.event, RetentionPolicySet) and r.event.organisation_id == organisation_id
    ]
    last = recorded[-1]
    return RetentionPolicyRecord(
        organisation_id=organisation_id,
        policy=policy_after(events),
        set_by=events[-1].set_by if events else None,
        set_at=last.recorded_at,
    )


async def set_policy(
    store: PostgresEventStore, organisation_id: str, erase_after_days: int | None, set_by: str
) -> RetentionPolicyRecord:
    """Record the policy (None: withdraw it); `PolicyRefused` for values that may not be set,
    `events.errors.ConcurrencyConflict` when another change came first."""
    faults = policy_faults(erase_after_days, set_by)
    if not is_identifier(organisation_id):
        faults.append(("organisation_id", "the organisation must be an identifier"))
    if faults:
        raise PolicyRefused(faults)
    stream = policy_stream(organisation_id)
    version = await store.stream_version(POLICY_TENANT, stream)
    event = RetentionPolicySet(
        organisation_id=organisation_id, erase_after_days=erase_after_days, set_by=set_by
    )
    await store.append(POLICY_TENANT, stream, version, [event], EventMetadata(actor_id=set_by))
    return await current_policy(store, organisation_id)
