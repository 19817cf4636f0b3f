"""The one error mapper at the HTTP edge: every exception becomes `application/problem+json`.

The status and type come from `services.api.problems`; this module only adapts litestar's own
exceptions to it and decides what is logged. Nothing of an exception's message reaches a
client except a domain error's own message (`problems.problem_for` decides that), and nothing
of any message reaches the log: an unexpected exception is logged as `error_code` and
`exc_type` only.
"""

from __future__ import annotations

import re
from typing import Any

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotAuthorizedException, ValidationException

from services.api.observe import bind_scope
from services.api.problems import (
    INTERNAL_ERROR,
    PROBLEM_MEDIA_TYPE,
    RETRY_AFTER_SECONDS,
    Problem,
    ProblemError,
    error_code,
    problem,
    problem_for,
    problem_for_status,
    problem_response_body,
    problem_type_for,
)
from services.observability.logging import get_logger

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Headers a litestar HTTPException may carry that are safe and useful to pass on.
_PASSED_HEADERS = frozenset({"allow", "www-authenticate", "retry-after"})

# msgspec names an unknown member in its message ("Object contains unknown field `<name>`"):
# the name is the client's own text and may be case content (a name used as a key), so it is
# dropped; the pointer still locates the object that holds it.
_UNKNOWN_FIELD = re.compile(r"unknown field `.*?`(?= - at |$)", re.DOTALL)


def problem_response(problem_: Problem, headers: dict[str, str] | None = None) -> Response[bytes]:
    """The problem as the response; a 503 always says when to retry (`Retry-After`)."""
    headers = dict(headers or {})
    if problem_.status == 503 and not any(name.lower() == "retry-after" for name in headers):
        headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return Response(
        content=problem_response_body(problem_),
        status_code=problem_.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Registered for `Exception`: the app's only exception handler."""
    if isinstance(exc, HTTPException):
        if exc.status_code >= 500:
            bind_scope(request.scope)
            get_logger("api").error(
                "request failed", error_code=f"http-{exc.status_code}", exc_type=type(exc).__name__
            )
        return _http_problem(exc)
    kind = problem_type_for(exc, if_match="if-match" in request.headers)
    bind_scope(request.scope)
    if kind is INTERNAL_ERROR:
        get_logger("api").error(
            "request failed",
            error_code=error_code(exc),
            exc_type=type(exc).__name__,
            problem_type=kind.slug,
        )
    elif kind.status >= 500:  # the database or the key provider is away: not Haven's bug
        get_logger("api").warning(
            "request not served",
            error_code=error_code(exc),
            exc_type=type(exc).__name__,
            problem_type=kind.slug,
        )
    else:
        get_logger("api").info(
            "request refused", error_code=error_code(exc), problem_type=kind.slug
        )
    return problem_response(
        problem_for(
            exc,
            if_match="if-match" in request.headers,
            command=request.method not in _SAFE_METHODS,
        )
    )


def _http_problem(exc: HTTPException) -> Response[bytes]:
    headers = {
        name: value
        for name, value in (exc.headers or {}).items()
        if name.lower() in _PASSED_HEADERS
    }
    if isinstance(exc, ValidationException):
        errors = _validation_errors(exc.extra)
        if errors is None:
            return problem_response(problem("bad-request"), headers)
        return problem_response(problem("validation-error", errors=errors), headers)
    if isinstance(exc, NotAuthorizedException) or exc.status_code == 401:
        if not any(name.lower() == "www-authenticate" for name in headers):
            headers["WWW-Authenticate"] = "Bearer"
    return problem_response(problem_for_status(exc.status_code), headers)


def _validation_errors(extra: Any) -> list[ProblemError] | None:
    """RFC 9457 "errors" from litestar's validation messages; None when the body did not parse.

    litestar words each message from msgspec ("Expected `int`, got `str`") and names the
    member by its dotted key; the key becomes an RFC 6901 pointer into the body. Parameters
    outside the body (query, path, header) point at "#/<source>/<name>" instead.
    """
    if not isinstance(extra, list) or not extra:
        return None
    errors = []
    for item in extra:
        if not isinstance(item, dict) or not isinstance(item.get("message"), str):
            return None
        key = item.get("key")
        source = item.get("source", "body")
        source = getattr(source, "value", source)  # litestar's own checks name it by a ParamType
        if not isinstance(key, str):
            return None
        if source == "body":
            parts = [] if key in ("", "data") else key.split(".")
            pointer = "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)
        else:
            pointer = f"#/{source}/{key}"
        errors.append(
            ProblemError(
                detail=_UNKNOWN_FIELD.sub("unknown field", item["message"]), pointer=pointer
            )
        )
    return errors
