"""Synthetic event types for the store's tests (no real person, no real case content)."""

from __future__ import annotations

from typing import Any, ClassVar

from domain.event import DomainEvent
from events.registry import EventRegistry


class NoteAdded(DomainEvent, frozen=True, kw_only=True, tag="test.note_added"):
    text: str


class VisitCounted(DomainEvent, frozen=True, kw_only=True, tag="test.visit_counted"):
    """Version 2 renamed `n` to `visits` and added `unit`."""

    schema_version: ClassVar[int] = 2
    visits: int
    unit: str = "visit"


class VisitCountedV1(DomainEvent, frozen=True, kw_only=True, tag="test.visit_counted"):
    """What version 1 of the event looked like, to write old data in tests."""

    n: int


class NoteAddedWithMood(DomainEvent, frozen=True, kw_only=True, tag="test.note_added"):
    """A newer writer's version of NoteAdded, with a field older readers do not know."""

    text: str
    mood: str


def upcast_visit_counted_v1(document: dict[str, Any]) -> dict[str, Any]:
    return {"visits": document["n"], "unit": "visit"}


def sample_registry() -> EventRegistry:
    return EventRegistry(
        [NoteAdded, VisitCounted], {("test.visit_counted", 1): upcast_visit_counted_v1}
    )


def v1_registry() -> EventRegistry:
    return EventRegistry([NoteAdded, VisitCountedV1])
