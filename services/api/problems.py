"""RFC 9457 problem details: the one table from Haven's errors to HTTP answers.

Every answer that is not a success is a `Problem`, sent as `application/problem+json`, whose
`type` is `https://haven.example/problems/<slug>`. Slugs are stable: clients branch on them,
so a slug is never renamed or reused. How a status is chosen is in docs/api.md (Errors).

`detail` is either the domain error's own message (domain messages name the rule and the codes
involved, never a survivor's data, see `domain/case/errors.py`), a fixed sentence from this
table, or absent; a 500 never has one. Nothing else reaches a client.

`PROBLEM_TYPES` is keyed by *error code*: a `DomainError`'s `code`, the code `ERROR_CODES` gives
a store or crypto error, or an HTTP-level slug. Several codes may share one type. `error_code`
is also what the API logs (as `error_code`; the slug as `problem_type`).
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from types import MappingProxyType

import msgspec

from crypto.errors import DecryptionError, KeyProviderError
from domain.case.errors import DomainError
from events.access_log import AccessNotRecorded
from events.errors import (
    AppendOrderError,
    ConcurrencyConflict,
    EventStoreError,
    StreamErased,
    StreamNotFound,
    TamperDetected,
    UnknownEventType,
)
from services.authorisation import Forbidden, NotFound
from services.commands.refusals import (
    CommandRefused,
    ConcurrentChange,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidRequest,
    OutsideOwnTeam,
    PreconditionFailed,
    PreconditionRequired,
    StaleVersion,
    UnknownWorker,
)
from services.database_outage import is_database_unavailable
from services.organisations.partner_workers import UnknownPartner

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_BASE_URI = "https://haven.example/problems/"
UNHANDLED = "unhandled"  # the error code of an exception Haven has no name for


class ProblemType(msgspec.Struct, frozen=True):
    slug: str
    status: int
    title: str
    expose_message: bool = False  # `detail` is the error's own message (domain errors only)
    detail: str | None = None  # otherwise this fixed sentence, if any

    @property
    def uri(self) -> str:
        return PROBLEM_BASE_URI + self.slug


class ProblemError(msgspec.Struct, frozen=True):
    """One invalid member of a request body (RFC 9457 §3 example "errors")."""

    detail: str
    pointer: str  # RFC 6901 JSON Pointer into the body: "/identity/date_of_birth"


class Problem(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    errors: list[ProblemError] | None = None


# -- HTTP-level types ---------------------------------------------------------------------

BAD_REQUEST = ProblemType(
    "bad-request",
    400,
    "Malformed request",
    detail="The request body or a header could not be parsed.",
)
UNAUTHORIZED = ProblemType("unauthorized", 401, "Authentication required")
FORBIDDEN = ProblemType("forbidden", 403, "Not permitted")
NOT_FOUND = ProblemType("not-found", 404, "Not found")
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", 405, "Method not allowed")
CONCURRENT_CHANGE = ProblemType(
    "concurrent-change",
    409,
    "Concurrent change",
    detail="The case changed while this request was handled; read it again and retry.",
)
PRECONDITION_FAILED = ProblemType(
    "precondition-failed",
    412,
    "Precondition failed",
    detail="The case is no longer at the version named in If-Match; read it again and retry.",
)
PAYLOAD_TOO_LARGE = ProblemType("payload-too-large", 413, "Request body too large")
UNSUPPORTED_MEDIA_TYPE = ProblemType(
    "unsupported-media-type", 415, "Unsupported media type", detail="Send application/json."
)
VALIDATION_ERROR = ProblemType("validation-error", 422, "Invalid request body")
PRECONDITION_REQUIRED = ProblemType(
    "precondition-required",
    428,
    "If-Match required",
    detail="Send If-Match with the case's current version (its ETag).",
)
RATE_LIMITED = ProblemType("rate-limited", 429, "Too many requests")
INTERNAL_ERROR = ProblemType("internal-error", 500, "Internal error")
SERVICE_UNAVAILABLE = ProblemType("service-unavailable", 503, "Service unavailable")
DATABASE_UNAVAILABLE = ProblemType(
    "database-unavailable",
    503,
    "Database unavailable",
    detail="The database cannot be reached just now; retry after the time in Retry-After.",
)
OVERLOADED = ProblemType(
    "overloaded",
    503,
    "Server busy",
    detail="The server has as many requests in progress as it can take; nothing of this "
    "request was done. Retry after the time in Retry-After.",
)
# a command whose database went away while it ran: it may or may not have been applied
OUTCOME_UNKNOWN_DETAIL = (
    "The database went away while this request was handled, so whether it took effect is "
    "unknown. Retry it with the same Idempotency-Key: it is then done once, or its first "
    "answer is returned."
)
RETRY_AFTER_SECONDS = 1  # every 503 says when to retry (RFC 9110 §10.2.3)
IDEMPOTENCY_KEY_REUSED = ProblemType(
    "idempotency-key-reused",
    422,
    "Idempotency-Key reused",
    detail="This Idempotency-Key was used for a different request; use a new key.",
)
UNKNOWN_WORKER = ProblemType("unknown-worker", 422, "Unknown worker")
PARTNER_NOT_FOUND = ProblemType(
    "partner-not-found",
    404,
    "Partner organisation not found",
    detail="Your organisation has no active partner of this deployment with this id.",
)
IDEMPOTENCY_KEY_IN_PROGRESS = ProblemType(
    "idempotency-key-in-progress",
    409,
    "Idempotency-Key in progress",
    detail="A request with this Idempotency-Key has not finished; retry later.",
)

_HTTP_TYPES = (
    BAD_REQUEST,
    UNAUTHORIZED,
    FORBIDDEN,
    NOT_FOUND,
    METHOD_NOT_ALLOWED,
    CONCURRENT_CHANGE,
    PRECONDITION_FAILED,
    PAYLOAD_TOO_LARGE,
    UNSUPPORTED_MEDIA_TYPE,
    VALIDATION_ERROR,
    PRECONDITION_REQUIRED,
    RATE_LIMITED,
    INTERNAL_ERROR,
    SERVICE_UNAVAILABLE,
    DATABASE_UNAVAILABLE,
    OVERLOADED,
    IDEMPOTENCY_KEY_REUSED,
    IDEMPOTENCY_KEY_IN_PROGRESS,
    UNKNOWN_WORKER,
    PARTNER_NOT_FOUND,
)

# -- domain rules: (code, status, title); the slug is the code --------------------------------

_DOMAIN_RULES = (
    # not found
    ("case-not-found", 404, "Case not found"),
    ("consent-not-found", 404, "Consent not found"),
    ("referral-not-found", 404, "Referral not found"),
    ("goal-not-found", 404, "Goal not found"),
    ("milestone-not-found", 404, "Milestone not found"),
    ("transfer-not-found", 404, "Transfer not found"),
    # a value in the request breaks a rule
    ("invalid-code", 422, "Invalid code"),
    ("invalid-value", 422, "Invalid value"),
    ("date-in-future", 422, "Date in the future"),
    ("date-out-of-order", 422, "Dates out of order"),
    ("minor-sex-trafficking-misclassified", 422, "Minor's case misclassified"),
    ("consent-not-valid", 422, "Consent not valid"),
    ("reason-required", 422, "Reason required"),
    ("certification-age-mismatch", 422, "Letter does not match the client's age"),
    # the case's current state refuses the request
    ("case-already-open", 409, "Case already open"),
    ("case-closed", 409, "Case closed"),
    ("case-not-closed", 409, "Case not closed"),
    ("consent-already-exists", 409, "Consent already recorded"),
    ("consent-expired", 409, "Consent expired"),
    ("consent-revoked", 409, "Consent revoked"),
    ("consent-does-not-cover", 409, "Consent does not cover this release"),
    ("consent-required", 409, "Consent required"),
    ("referral-already-exists", 409, "Referral already recorded"),
    ("referral-not-open", 409, "Referral not open"),
    ("illegal-referral-transition", 409, "Referral status change not allowed"),
    ("answered-by-recipient", 409, "The recipient organisation answers this referral"),
    ("referral-overdue", 409, "Referral expired unanswered"),
    ("referral-not-overdue", 409, "Referral still awaiting its answer"),
    ("duplicate-record", 409, "Record id already used"),
    ("illegal-immigration-transition", 409, "Immigration step not allowed"),
    ("already-assigned", 409, "Already assigned"),
    ("open-referrals-on-closure", 409, "Case has open referrals"),
    ("transfer-pending", 409, "A transfer is waiting for an answer"),
    ("activity-withdrawn", 409, "Activity withdrawn"),
    ("task-done", 409, "Task already done"),
)

# -- errors that are not domain rules -----------------------------------------------------------

ERROR_CODES: Mapping[type[BaseException], str] = MappingProxyType(
    {
        ConcurrencyConflict: "concurrency-conflict",
        StreamNotFound: "stream-not-found",
        StreamErased: "stream-erased",
        TamperDetected: "tamper-detected",
        UnknownEventType: "unknown-event-type",
        AppendOrderError: "append-order",
        EventStoreError: "event-store-error",
        DecryptionError: "decryption-failed",
        KeyProviderError: "key-provider-unavailable",
        # fail closed: a read whose access could not be recorded returns no content
        AccessNotRecorded: "access-not-recorded",
        # authorisation refusals (services.authorisation): another organisation's case is
        # the same 404 as a missing one
        NotFound: "not-found",
        Forbidden: "forbidden",
        # the write path's refusals of a request (services.commands.refusals)
        PreconditionRequired: "precondition-required",
        PreconditionFailed: "precondition-failed",
        StaleVersion: "precondition-failed",
        ConcurrentChange: "concurrent-change",
        IdempotencyKeyReused: "idempotency-key-reused",
        IdempotencyKeyInProgress: "idempotency-key-in-progress",
        InvalidRequest: "validation-error",
        OutsideOwnTeam: "forbidden",
        UnknownWorker: "unknown-worker",
        # no partner of the caller's in this deployment (services.organisations.partner_workers)
        UnknownPartner: "partner-not-found",
        # a body that is not UTF-8 (msgspec raises this, not a DecodeError, and litestar lets it
        # through)
        UnicodeDecodeError: "body-not-utf8",
    }
)

PROBLEM_TYPES: Mapping[str, ProblemType] = MappingProxyType(
    {
        **{t.slug: t for t in _HTTP_TYPES},
        **{
            code: ProblemType(code, status, title, expose_message=True)
            for code, status, title in _DOMAIN_RULES
        },
        # a DomainError without a named rule, or a fold handed a gap: bugs, not refusals
        DomainError.code: INTERNAL_ERROR,
        "version-gap": INTERNAL_ERROR,
        "concurrency-conflict": CONCURRENT_CHANGE,
        "body-not-utf8": BAD_REQUEST,
        "stream-not-found": NOT_FOUND,
        "stream-erased": NOT_FOUND,
        "tamper-detected": INTERNAL_ERROR,
        "unknown-event-type": INTERNAL_ERROR,  # data newer than the code: a deployment problem
        "append-order": INTERNAL_ERROR,
        "event-store-error": INTERNAL_ERROR,
        "decryption-failed": INTERNAL_ERROR,
        "key-provider-unavailable": SERVICE_UNAVAILABLE,
        "access-not-recorded": SERVICE_UNAVAILABLE,
        UNHANDLED: INTERNAL_ERROR,
    }
)

_BY_SLUG: Mapping[str, ProblemType] = MappingProxyType({t.slug: t for t in PROBLEM_TYPES.values()})
_BY_STATUS: Mapping[int, ProblemType] = MappingProxyType(
    {
        t.status: t
        for t in _HTTP_TYPES
        if t
        not in (
            CONCURRENT_CHANGE,
            IDEMPOTENCY_KEY_REUSED,
            IDEMPOTENCY_KEY_IN_PROGRESS,
            UNKNOWN_WORKER,
            PARTNER_NOT_FOUND,
            DATABASE_UNAVAILABLE,
            OVERLOADED,
        )
    }
)
_ENCODER = msgspec.json.Encoder()


def error_code(exc: BaseException) -> str:
    """The stable code of an error: what the API logs and looks up in `PROBLEM_TYPES`."""
    if isinstance(exc, DomainError):
        return exc.code
    if is_database_unavailable(exc):
        return DATABASE_UNAVAILABLE.slug
    for cls in type(exc).__mro__:
        if cls in ERROR_CODES:
            return ERROR_CODES[cls]
    return UNHANDLED


def problem_type_for(exc: BaseException, *, if_match: bool = False) -> ProblemType:
    """The type an error answers with; unknown errors (and unmapped codes) are internal errors.

    `if_match`: the request carried If-Match. A `ConcurrencyConflict` then means that the
    precondition failed (RFC 9110 §13.1.1), so it answers 412 instead of 409.
    """
    if if_match and isinstance(exc, ConcurrencyConflict):
        return PRECONDITION_FAILED
    return PROBLEM_TYPES.get(error_code(exc), INTERNAL_ERROR)


def problem_for(exc: BaseException, *, if_match: bool = False, command: bool = False) -> Problem:
    """`command`: the request may change something (not GET, HEAD or OPTIONS); if the
    database went away meanwhile, the answer says its outcome is unknown."""
    kind = problem_type_for(exc, if_match=if_match)
    detail = (str(exc) or None) if kind.expose_message else kind.detail
    if kind is DATABASE_UNAVAILABLE and command:
        detail = OUTCOME_UNKNOWN_DETAIL
    if isinstance(exc, CommandRefused) and exc.detail is not None:
        detail = exc.detail  # a fixed sentence of the write path's, never the request's data
    errors = (
        [ProblemError(detail=rule, pointer=pointer) for pointer, rule in exc.faults]
        if isinstance(exc, InvalidRequest)
        else None
    )
    return Problem(
        type=kind.uri, title=kind.title, status=kind.status, detail=detail, errors=errors
    )


def problem(
    slug: str, *, detail: str | None = None, errors: list[ProblemError] | None = None
) -> Problem:
    """A problem of an HTTP-level type, e.g. `problem("precondition-required")`.

    `detail` replaces the type's fixed sentence; an internal error never carries one.
    """
    kind = _BY_SLUG[slug]
    if kind is INTERNAL_ERROR:
        detail = None
    return Problem(
        type=kind.uri,
        title=kind.title,
        status=kind.status,
        detail=detail if detail is not None else kind.detail,
        errors=errors or None,
    )


def problem_for_status(status: int) -> Problem:
    """A problem for a bare HTTP status (a framework's own 404, 405, 413...).

    Statuses without a Haven type answer RFC 9457's "about:blank" with the status phrase.
    """
    kind = _BY_STATUS.get(status)
    if kind is not None:
        return Problem(type=kind.uri, title=kind.title, status=kind.status, detail=kind.detail)
    return Problem(type="about:blank", title=HTTPStatus(status).phrase, status=status)


def all_problem_types() -> list[ProblemType]:
    """Every type the API can answer with, once each, by status then slug (for the docs)."""
    return sorted(_BY_SLUG.values(), key=lambda t: (t.status, t.slug))


def problem_response_body(problem: Problem) -> bytes:
    return _ENCODER.encode(problem)
