"""Problem details: every error Haven can raise has a type, and no detail says more than it may.

The coverage tests discover errors by walking the code (subclasses of `DomainError` in every
`domain` module, every exception class in `events/errors.py` and `crypto/errors.py`), so adding
an error without deciding its problem type fails the build.
"""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
import re
from types import ModuleType

import pytest

import crypto.errors
import domain
import events.errors
from crypto.errors import DecryptionError, KeyProviderError
from domain.case import errors as de
from domain.case.errors import DomainError
from events.errors import (
    AppendOrderError,
    ConcurrencyConflict,
    StreamErased,
    StreamNotFound,
    TamperDetected,
    UnknownEventType,
)
from services.api.problems import (
    ERROR_CODES,
    PROBLEM_BASE_URI,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPES,
    UNHANDLED,
    Problem,
    ProblemError,
    all_problem_types,
    error_code,
    problem,
    problem_for,
    problem_for_status,
    problem_response_body,
)

CANARY = "CANARY-7f3e-name"

# The documented decision for every domain rule: change it here and in the table together.
DOMAIN_STATUS = {
    404: {
        "case-not-found",
        "consent-not-found",
        "referral-not-found",
        "goal-not-found",
        "milestone-not-found",
        "transfer-not-found",
    },
    422: {
        "invalid-code",
        "invalid-value",
        "date-in-future",
        "date-out-of-order",
        "minor-sex-trafficking-misclassified",
        "consent-not-valid",
        "reason-required",
        "certification-age-mismatch",
    },
    409: {
        "case-already-open",
        "case-closed",
        "case-not-closed",
        "consent-already-exists",
        "consent-expired",
        "consent-revoked",
        "consent-does-not-cover",
        "consent-required",
        "referral-already-exists",
        "referral-not-open",
        "illegal-referral-transition",
        "answered-by-recipient",
        "referral-overdue",
        "referral-not-overdue",
        "duplicate-record",
        "illegal-immigration-transition",
        "already-assigned",
        "open-referrals-on-closure",
        "transfer-pending",
        "activity-withdrawn",
        "task-done",
    },
    500: {"domain-error", "version-gap"},  # bugs, not refusals
}

HTTP_STATUS = {
    "bad-request": 400,
    "unauthorized": 401,
    "forbidden": 403,
    "not-found": 404,
    "method-not-allowed": 405,
    "concurrent-change": 409,
    "precondition-failed": 412,
    "payload-too-large": 413,
    "unsupported-media-type": 415,
    "validation-error": 422,
    "precondition-required": 428,
    "rate-limited": 429,
    "internal-error": 500,
    "service-unavailable": 503,
}


def domain_error_classes() -> list[type[DomainError]]:
    for info in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(info.name)
    found, pending = [], [DomainError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("domain."):
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda c: c.__name__)


def exception_classes(module: ModuleType) -> list[type[BaseException]]:
    return [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseException) and cls.__module__ == module.__name__
    ]


def unmapped(classes: list[type[DomainError]]) -> list[type[DomainError]]:
    return [cls for cls in classes if cls.code not in PROBLEM_TYPES]


def body(exc: BaseException, **kwargs: bool) -> dict[str, object]:
    return json.loads(problem_response_body(problem_for(exc, **kwargs)))


# -- coverage -------------------------------------------------------------------------------


def test_the_walk_finds_the_domain_errors() -> None:
    classes = domain_error_classes()
    assert DomainError in classes and de.CaseClosed in classes and de.VersionGap in classes
    assert len(classes) >= 30


@pytest.mark.parametrize("cls", domain_error_classes(), ids=lambda c: c.__name__)
def test_every_domain_error_has_its_own_code_and_a_problem_type(cls: type[DomainError]) -> None:
    assert "code" in vars(cls), f"{cls.__name__} inherits its code"
    assert cls.code in PROBLEM_TYPES, f"{cls.__name__} ({cls.code}) has no problem type"


def test_domain_codes_are_unique() -> None:
    codes = [cls.code for cls in domain_error_classes()]
    assert len(codes) == len(set(codes))


def test_every_domain_error_has_its_documented_status() -> None:
    decided = {code: status for status, codes in DOMAIN_STATUS.items() for code in codes}
    assert set(decided) == {cls.code for cls in domain_error_classes()}
    assert {code: PROBLEM_TYPES[code].status for code in decided} == decided


@pytest.mark.parametrize(
    "cls",
    exception_classes(events.errors) + exception_classes(crypto.errors),
    ids=lambda c: c.__name__,
)
def test_every_store_and_crypto_error_has_a_code_and_a_problem_type(
    cls: type[BaseException],
) -> None:
    assert cls in ERROR_CODES, f"{cls.__name__} has no error code"
    assert ERROR_CODES[cls] in PROBLEM_TYPES


def test_the_module_walk_finds_the_store_errors() -> None:
    assert {ConcurrencyConflict, TamperDetected, AppendOrderError} <= set(
        exception_classes(events.errors)
    )
    assert {DecryptionError, KeyProviderError} <= set(exception_classes(crypto.errors))


def test_control_an_error_added_without_a_problem_type_is_caught() -> None:
    class RuleNobodyMapped(DomainError):
        code = "rule-nobody-mapped"

    assert unmapped([de.CaseClosed, RuleNobodyMapped]) == [RuleNobodyMapped]
    # and should one reach the edge anyway, it answers a detail-free 500, not its message
    assert body(RuleNobodyMapped(CANARY)) == {
        "type": PROBLEM_BASE_URI + "internal-error",
        "title": "Internal error",
        "status": 500,
    }


# -- the table ------------------------------------------------------------------------------


def test_http_level_types_have_their_statuses() -> None:
    assert {slug: PROBLEM_TYPES[slug].status for slug in HTTP_STATUS} == HTTP_STATUS


def test_all_problem_types_lists_each_type_once_with_a_stable_uri() -> None:
    listed = all_problem_types()
    slugs = [t.slug for t in listed]
    assert len(slugs) == len(set(slugs))
    assert set(listed) == set(PROBLEM_TYPES.values())
    for kind in listed:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", kind.slug)
        assert kind.uri == PROBLEM_BASE_URI + kind.slug and kind.uri.startswith("https://")
        assert 400 <= kind.status <= 599 and kind.title
    assert listed == sorted(listed, key=lambda t: (t.status, t.slug))


def test_a_type_keyed_under_another_code_is_also_reachable_by_its_slug() -> None:
    for kind in PROBLEM_TYPES.values():
        assert PROBLEM_TYPES[kind.slug] is kind


def test_only_domain_types_expose_an_error_message() -> None:
    domain_codes = {cls.code for cls in domain_error_classes()}
    for kind in all_problem_types():
        if kind.expose_message:
            assert kind.slug in domain_codes and kind.status < 500


# -- what a client sees -----------------------------------------------------------------------


def test_a_domain_refusal_carries_its_own_message_only() -> None:
    assert body(de.CaseClosed("the case is closed")) == {
        "type": "https://haven.example/problems/case-closed",
        "title": "Case closed",
        "status": 409,
        "detail": "the case is closed",
    }
    assert body(de.InvalidCode("no milestone rules for 'x'"))["status"] == 422
    assert body(de.CaseNotFound("no such case"))["status"] == 404


def test_a_domain_error_without_a_message_has_no_detail() -> None:
    assert "detail" not in body(de.ConsentExpired())


@pytest.mark.parametrize(
    "exc",
    [
        TamperDetected(f"stream {CANARY} fails its hash chain"),
        DecryptionError(),
        UnknownEventType(f"tag {CANARY}"),
        AppendOrderError(CANARY),
        RuntimeError(CANARY),
        KeyError(CANARY),
        de.VersionGap(f"version 3 cannot follow 1 ({CANARY})"),
        DomainError(CANARY),
    ],
    ids=lambda e: type(e).__name__,
)
def test_internal_errors_are_generic(exc: BaseException) -> None:
    assert body(exc) == {
        "type": PROBLEM_BASE_URI + "internal-error",
        "title": "Internal error",
        "status": 500,
    }


@pytest.mark.parametrize(
    ("exc", "status", "slug"),
    [
        (StreamNotFound(CANARY), 404, "not-found"),
        (StreamErased(CANARY), 404, "not-found"),
        (KeyProviderError(CANARY), 503, "service-unavailable"),
        (ConcurrencyConflict(CANARY, 3), 409, "concurrent-change"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else str(v),
)
def test_store_errors_never_echo_their_message(exc: BaseException, status: int, slug: str) -> None:
    answer = problem_response_body(problem_for(exc))
    assert CANARY.encode() not in answer
    assert (json.loads(answer)["status"], json.loads(answer)["type"]) == (
        status,
        PROBLEM_BASE_URI + slug,
    )


def test_a_stale_if_match_answers_412_and_a_race_without_one_409() -> None:
    conflict = ConcurrencyConflict("case-1", 3)
    assert body(conflict, if_match=True)["status"] == 412
    assert body(conflict)["status"] == 409
    assert body(de.CaseClosed("closed"), if_match=True)["status"] == 409


def test_error_codes_follow_inheritance_and_default_to_unhandled() -> None:
    class SubTamper(TamperDetected):
        pass

    assert error_code(SubTamper()) == "tamper-detected"
    assert error_code(de.CaseClosed()) == "case-closed"
    assert error_code(ValueError()) == UNHANDLED


def test_problem_builds_http_level_answers() -> None:
    assert problem("precondition-required") == Problem(
        type=PROBLEM_BASE_URI + "precondition-required",
        title="If-Match required",
        status=428,
        detail="Send If-Match with the case's current version (its ETag).",
    )
    assert (
        problem("forbidden", detail="role cannot close cases").detail == "role cannot close cases"
    )
    assert problem("internal-error", detail=CANARY).detail is None
    with pytest.raises(KeyError):
        problem("no-such-slug")


def test_validation_errors_are_listed_with_json_pointers() -> None:
    answer = json.loads(
        problem_response_body(
            problem(
                "validation-error",
                errors=[ProblemError(detail="Expected `int`, got `str`", pointer="/family/spouse")],
            )
        )
    )
    assert answer == {
        "type": PROBLEM_BASE_URI + "validation-error",
        "title": "Invalid request body",
        "status": 422,
        "errors": [{"detail": "Expected `int`, got `str`", "pointer": "/family/spouse"}],
    }


@pytest.mark.parametrize(
    ("status", "slug"),
    [
        (400, "bad-request"),
        (401, "unauthorized"),
        (403, "forbidden"),
        (404, "not-found"),
        (405, "method-not-allowed"),
        (412, "precondition-failed"),
        (413, "payload-too-large"),
        (415, "unsupported-media-type"),
        (422, "validation-error"),
        (428, "precondition-required"),
        (429, "rate-limited"),
        (500, "internal-error"),
        (503, "service-unavailable"),
    ],
)
def test_bare_statuses_map_to_their_types(status: int, slug: str) -> None:
    answer = problem_for_status(status)
    assert (answer.status, answer.type) == (status, PROBLEM_BASE_URI + slug)


def test_a_status_without_a_type_answers_about_blank() -> None:
    answer = problem_for_status(406)
    assert (answer.type, answer.title, answer.status, answer.detail) == (
        "about:blank",
        "Not Acceptable",
        406,
        None,
    )


def test_the_body_omits_empty_members_and_the_media_type_is_rfc_9457() -> None:
    assert PROBLEM_MEDIA_TYPE == "application/problem+json"
    raw = problem_response_body(problem_for(RuntimeError()))
    assert (
        raw == b'{"type":"https://haven.example/problems/internal-error",'
        b'"title":"Internal error","status":500}'
    )
