"""The base of every domain event.

Events are frozen msgspec Structs, named in the past tense, each with an explicit, stable
string tag (never the class name, which may change) and a schema version. A new optional
field is added with a default and needs no new version; any other change (rename, type
change, split) bumps `schema_version` and registers an upcaster in `events.registry`.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec


class DomainEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="type", gc=False):
    """`gc=False`: events are plain data that never form reference cycles, so the garbage
    collector need not track the hundreds of thousands a projector decodes."""

    schema_version: ClassVar[int] = 1


class EventMetadata(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Who caused an event and why. Sealed together with the payload, never stored in clear."""

    actor_id: str
    command_id: str | None = None
    correlation_id: str | None = None
    causation_id: str | None = None
