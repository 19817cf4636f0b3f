"""Every event type Haven stores, with its upcasters: the registry the store is built with."""

from __future__ import annotations

from domain.case.events import CASE_EVENTS, CASE_UPCASTERS
from domain.directory.events import DIRECTORY_EVENTS
from domain.inbox.events import INBOX_EVENTS
from domain.organisation.events import ORGANISATION_EVENTS
from domain.outreach.events import ACTIVITY_EVENTS
from domain.reporting.policy import POLICY_EVENTS
from domain.retention import RETENTION_EVENTS
from domain.screening.screening import SCREENING_EVENTS
from domain.tasks.actions import TASK_EVENTS
from domain.tasks.rules import FOLLOW_UP_EVENTS
from events.registry import EventRegistry


def haven_registry() -> EventRegistry:
    return EventRegistry(
        (
            *CASE_EVENTS,
            *POLICY_EVENTS,
            *RETENTION_EVENTS,
            *SCREENING_EVENTS,
            *ACTIVITY_EVENTS,
            *DIRECTORY_EVENTS,
            *ORGANISATION_EVENTS,
            *INBOX_EVENTS,
            *FOLLOW_UP_EVENTS,
            *TASK_EVENTS,
        ),
        CASE_UPCASTERS,
    )
