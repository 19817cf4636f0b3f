"""The registry of event types: stable tags, schema versions, upcasters, and the codec.

The sealed plaintext of an event is the msgpack array ``[metadata, payload]``; the payload is
the event Struct including its tag field. Stored events are decoded leniently (unknown fields
are ignored, so an older reader survives a newer writer's added field); an unknown tag, or a
schema version newer than this code knows, is an `UnknownEventType` error.

Upcasters turn the stored form of an old schema version into the next version's form
(``dict -> dict``); they are chained, so a v1 event is read as v3 through v1->v2->v3.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import msgspec

from domain.event import DomainEvent, EventMetadata
from events.errors import UnknownEventType

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

_envelope_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(tuple[EventMetadata, msgspec.Raw])
_any_decoder = msgspec.msgpack.Decoder()


def tag_of(event_type: type[DomainEvent]) -> str:
    tag = event_type.__struct_config__.tag
    if not isinstance(tag, str):
        raise TypeError(f"{event_type.__name__} needs an explicit string tag")
    return tag


class EventRegistry:
    def __init__(
        self,
        event_types: Iterable[type[DomainEvent]],
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        for event_type in event_types:
            tag = tag_of(event_type)
            if tag in self._types:
                raise ValueError(f"event tag {tag!r} registered twice")
            self._types[tag] = event_type
        # Current-version events decode in one pass, metadata and payload together.
        self._decoders = {
            tag: msgspec.msgpack.Decoder(tuple[EventMetadata, cls])
            for tag, cls in self._types.items()
        }
        self._upcasters = dict(upcasters or {})
        for tag, version in self._upcasters:
            current = self._types[tag].schema_version if tag in self._types else 0
            if not 1 <= version < current:
                raise ValueError(f"upcaster for {tag!r} v{version} does not lead to v{current}")

    def __contains__(self, tag: str) -> bool:
        return tag in self._types

    def encode(self, event: DomainEvent, metadata: EventMetadata) -> tuple[str, int, bytes]:
        """(tag, schema version, plaintext) of an event about to be sealed."""
        event_type = type(event)
        tag = tag_of(event_type)
        if self._types.get(tag) is not event_type:
            raise UnknownEventType(f"event type {tag!r} is not registered")
        return tag, event_type.schema_version, _envelope_encoder.encode((metadata, event))

    def decoder(
        self, tag: str, schema_version: int
    ) -> Callable[[bytes], tuple[EventMetadata, DomainEvent]]:
        """A function decoding plaintexts of one tag and schema version to (metadata, event).

        Readers look it up once per batch; for the current schema version it is msgspec's
        decoder itself, with nothing in between.
        """
        event_type = self._types.get(tag)
        if event_type is not None and schema_version == event_type.schema_version:
            return self._decoders[tag].decode

        def upcasting(plaintext: bytes) -> tuple[EventMetadata, DomainEvent]:
            event, metadata = self.decode(tag, schema_version, plaintext)
            return metadata, event

        return upcasting

    def decode(
        self, tag: str, schema_version: int, plaintext: bytes
    ) -> tuple[DomainEvent, EventMetadata]:
        event_type = self._types.get(tag)
        if event_type is None:
            raise UnknownEventType(f"no event type is registered under the tag {tag!r}")
        if schema_version > event_type.schema_version:
            raise UnknownEventType(
                f"{tag!r} schema version {schema_version} is newer than this code "
                f"(v{event_type.schema_version})"
            )
        if schema_version == event_type.schema_version:
            metadata, event = self._decoders[tag].decode(plaintext)
            return event, metadata
        metadata, raw = _envelope_decoder.decode(plaintext)
        document = _any_decoder.decode(raw)
        for version in range(schema_version, event_type.schema_version):
            upcaster = self._upcasters.get((tag, version))
            if upcaster is None:
                raise UnknownEventType(f"no upcaster for {tag!r} from schema version {version}")
            document = upcaster(document)
        document["type"] = tag
        return msgspec.convert(document, event_type), metadata
