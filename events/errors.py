"""Errors of the event store, free of driver types: callers never see asyncpg."""


class EventStoreError(Exception):
    pass


class ConcurrencyConflict(EventStoreError):
    """The stream moved on since the caller read it (its expected version is stale)."""

    def __init__(self, stream_id: str, expected_version: int) -> None:
        super().__init__(f"stream {stream_id} is not at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


class StreamNotFound(EventStoreError):
    pass


class StreamErased(EventStoreError):
    """The stream's data key was destroyed (crypto-shredded); its events cannot be read."""


class TamperDetected(EventStoreError):
    """A stored event or stream head fails its hash chain or authentication tag."""


class UnknownEventType(EventStoreError):
    """A stored event's tag is not registered (or its schema version is newer than the code)."""


class AppendOrderError(EventStoreError):
    """`append` was called after the transaction had already written something else.

    Subscribers order the log by transaction id; a transaction that wrote before appending to
    an existing stream could be ordered before an event it depends on.
    """
