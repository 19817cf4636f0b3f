"""Why a command was refused before the domain saw it: plain exceptions, no HTTP.

The API's one error mapper (`services.api.problems`) gives each its problem type. Raising one
inside the unit of work rolls back whatever the command had written.
"""

from __future__ import annotations

from collections.abc import Sequence

from events.errors import ConcurrencyConflict


class CommandRefused(Exception):
    """A command the write path refuses for the request itself, not for the case's rules.
    `detail`, when set, is a fixed sentence the caller is told (never the request's data)."""

    detail: str | None = None


class PreconditionRequired(CommandRefused):
    """The command names no version of the case it was decided on (If-Match missing)."""


class PreconditionFailed(CommandRefused):
    """The command names a version the case is not at."""


class StaleVersion(ConcurrencyConflict):
    """The caller named a version the case is not at: it decided on a state it never saw.
    (Raised by the use cases before anything is appended; a lost race at the append is the
    store's own `ConcurrencyConflict`.)"""


class ConcurrentChange(CommandRefused):
    """Another command appended to the case between this one's read and its append."""


class IdempotencyKeyReused(CommandRefused):
    """The Idempotency-Key was used for a different request."""


class IdempotencyKeyInProgress(CommandRefused):
    """A request with the same Idempotency-Key has not finished."""


class InvalidRequest(CommandRefused):
    """Members of the request break a rule of their own: `(pointer, rule)` each."""

    def __init__(self, faults: Sequence[tuple[str, str]]) -> None:
        super().__init__("invalid request")
        self.faults = tuple(faults)


class OutsideOwnTeam(CommandRefused):
    """A supervisor named another team than their own for an assignment."""

    detail = "a supervisor assigns within their own team"


class UnknownWorker(CommandRefused):
    """The organisation keeps a worker directory, and the worker named is not an active
    worker of it."""

    detail = "the worker is not an active worker of the organisation's directory"
