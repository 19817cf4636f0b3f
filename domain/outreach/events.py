"""The events of an activity's stream (one stream per activity, in its organisation's tenant).

`ActivityRecorded` holds the whole record; `ActivityCorrected` holds the whole corrected
record, which replaces it; `ActivityWithdrawn` takes an activity recorded in error out of
every list and summary (its stream stays, as every stream does).
"""

from __future__ import annotations

from domain.event import DomainEvent
from domain.outreach.activity import Activity


class ActivityRecorded(DomainEvent, frozen=True, kw_only=True, tag="outreach.activity_recorded"):
    activity_id: str
    organisation_id: str
    activity: Activity


class ActivityCorrected(DomainEvent, frozen=True, kw_only=True, tag="outreach.activity_corrected"):
    activity_id: str
    activity: Activity


class ActivityWithdrawn(DomainEvent, frozen=True, kw_only=True, tag="outreach.activity_withdrawn"):
    activity_id: str
    reason: str  # a code of `domain.outreach.codes.WITHDRAWAL_REASONS`


ACTIVITY_EVENTS: tuple[type[DomainEvent], ...] = (
    ActivityRecorded,
    ActivityCorrected,
    ActivityWithdrawn,
)
