"""JSON logs for operators, with an allow-list between Haven's data and the log stream.

`configure_logging` is called once, at start-up, by whatever runs (the CLI, the API's app
factory, a worker). It sends both pipelines that can write a log line, structlog (Haven's own
code) and the stdlib `logging` root (asyncpg, granian, litestar), through the same `redact`
and JSON tail. What the redactor keeps and drops, and why, is in docs/security.md (Logs,
metrics and errors). Loggers come from `get_logger(component)` (`crypto.loggers`, re-exported
here); tests/test_architecture.py keeps it the only way.

What the allow-list cannot see: `event` itself is allowed, so it must be a constant written in
code ("case opened"), never an f-string or `%`-formatted with data; keys in `LOGGABLE_KEYS`
must only ever be given the values their names promise (`route` is the route template, never
the raw path).
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog
from structlog.stdlib import ExtraAdder, ProcessorFormatter
from structlog.typing import EventDict, Processor, WrappedLogger

from crypto.loggers import get_logger as get_logger  # re-exported: the one way to log

REDACTED = "[redacted]"
MAX_VALUE_CHARS = 200

LOGGABLE_KEYS = frozenset(
    {
        # the line itself
        "event",
        "level",
        "ts",
        "logger",
        "component",
        # a request (bound by `bind_request`)
        "request_id",
        "route",
        "method",
        "status",
        "latency_ms",
        "actor_id",
        "organisation_id",
        "role",
        "problem_type",
        "error_code",
        "exc_type",
        # operations: migrations, projections, subscriptions, benchmarks
        "migration",
        "count",
        "position",
        "lag_events",
        "lag_seconds",
        "projection",
        "version",
        "duration_ms",
        "figure",
        "generation",
        "waiting_at",
        # reporting: a funder's identifying field refused, and the codebook table that answered it
        "funder_field",
        "answered_with",
        # a differential-privacy release charged to its requester (a public parameter, not a count)
        "epsilon",
    }
)

# stdlib loggers whose message text is kept (exact names; children are not included).
MESSAGE_LOGGERS = frozenset({"_granian"})

# Libraries that install their own handlers (with propagate=False) and would otherwise write
# around the redactor: `configure_logging` removes those handlers and lets records propagate
# to the root. granian.access is adopted too: its lines (paths, client addresses) then arrive
# with their text dropped.
ADOPTED_LOGGERS = ("_granian", "granian.access", "litestar")

_REQUEST_KEYS = ("request_id", "route", "actor_id", "organisation_id")
_LEADING_KEYS = ("ts", "level", "logger", "component", "event")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}
# `extra=` fields a stdlib record may contribute; the line's own keys are set by the pipeline.
_STDLIB_EXTRA_KEYS = LOGGABLE_KEYS - {"event", "level", "ts", "logger", "exc_type"}


def redact(_logger: WrappedLogger, _method_name: str, event_dict: EventDict) -> EventDict:
    """The allow-list processor: the last one before the renderer.

    Keys that are not short identifiers (a `**mapping` of data would make its keys into log
    keys) are dropped and counted in `redacted_keys`.
    """
    exc_type = _exception_type(event_dict.pop("exc_info", None))
    clean: dict[str, Any] = {}
    dropped = 0
    for key, value in event_dict.items():
        if key in LOGGABLE_KEYS:  # every allowed key is a short identifier: no need to match it
            clean[key] = _scalar(value)
        elif not isinstance(key, str) or not _KEY.fullmatch(key):
            dropped += 1
        else:
            clean[key] = REDACTED
    if exc_type is not None:
        clean["exc_type"] = exc_type
    if dropped:
        clean["redacted_keys"] = dropped
    ordered = {key: clean.pop(key) for key in _LEADING_KEYS if key in clean}  # for human readers
    ordered.update(clean)
    return ordered


def _scalar(value: Any) -> Any:
    kind = type(value)
    if kind is str:  # the common cases first, by exact type (a subclass takes the checks below)
        return value[:MAX_VALUE_CHARS]
    if kind is int or kind is bool or value is None:  # (bool has no subclasses)
        return value
    if isinstance(value, int):
        return int(value)  # an IntEnum (HTTPStatus) becomes its number
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else repr(float(value))  # JSON has no NaN
    if isinstance(value, str):
        return str.__str__(value)[:MAX_VALUE_CHARS]  # a plain str, whatever the subclass says
    return REDACTED


def _exception_type(exc_info: Any) -> str | None:
    if exc_info is None or exc_info is False:
        return None
    if exc_info is True:
        exc_info = sys.exc_info()
    if isinstance(exc_info, BaseException):
        return type(exc_info).__name__
    if isinstance(exc_info, tuple) and exc_info and isinstance(exc_info[0], type):
        return exc_info[0].__name__
    return None


def _stdlib_message(_logger: WrappedLogger, _method_name: str, event_dict: EventDict) -> EventDict:
    record: logging.LogRecord = event_dict["_record"]
    if record.name not in MESSAGE_LOGGERS or record.exc_info:
        event_dict["event"] = REDACTED
    return event_dict


class _RedactingHandler(logging.StreamHandler):  # type: ignore[type-arg]
    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (stdlib's name)
        # The default prints the traceback, the message and its arguments to stderr.
        try:
            line = {
                "event": "log record could not be formatted",
                "level": "error",
                "logger": record.name[:MAX_VALUE_CHARS],
            }
            self.stream.write(json.dumps(line) + self.terminator)
            self.flush()
        except Exception:  # noqa: BLE001 (a logging failure must not take the caller down)
            pass


class StandardError:
    """`sys.stderr` as it is at each write: for commands whose standard output is their data
    (`haven report federal`), whatever replaces the stream later (a test's capture) included."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(
    level: str = "info", *, stream: TextIO | StandardError | None = None, cache_loggers: bool = True
) -> None:
    """Configure structlog and the stdlib root; `stream` defaults to `sys.stdout` at call time.

    Called once at start-up. Calling it again replaces the configuration (used by tests): it
    never stacks handlers. Every handler already on the root logger is removed, so that nothing
    (a `basicConfig`, a library's default) writes around the redactor. `cache_loggers`: a
    logger binds the configuration on first use (fast: the service); off for one-shot commands,
    whose loggers then follow a later configuration (a test running the CLI in its process).
    """
    try:
        level_number = _LEVELS[level.lower()]
    except KeyError:
        raise ValueError(f"unknown log level {level!r}: use one of {', '.join(_LEVELS)}") from None
    out = sys.stdout if stream is None else stream
    timestamper = structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts")
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            timestamper,
            redact,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level_number),
        context_class=dict,
        logger_factory=structlog.WriteLoggerFactory(file=out),
        cache_logger_on_first_use=cache_loggers,
    )
    _route_stdlib(level_number, out, timestamper)


def _route_stdlib(level_number: int, out: TextIO, timestamper: Processor) -> None:
    handler = _RedactingHandler(out)
    handler.setFormatter(
        ProcessorFormatter(
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                ExtraAdder(allow=sorted(_STDLIB_EXTRA_KEYS)),
                _stdlib_message,
                structlog.stdlib.add_log_level,
                structlog.stdlib.add_logger_name,
                timestamper,
            ],
            processors=[
                ProcessorFormatter.remove_processors_meta,
                redact,
                structlog.processors.JSONRenderer(),
            ],
            use_get_message=False,  # never interpolate a record's %-arguments
        )
    )
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level_number)
    for name in ADOPTED_LOGGERS:
        adopted = logging.getLogger(name)
        for existing in list(adopted.handlers):
            adopted.removeHandler(existing)
        adopted.propagate = True


def bind_request(
    request_id: str, route: str, actor_id: str | None = None, organisation_id: str | None = None
) -> None:
    """Bind a request's identifiers to every line logged in this context (task or thread).

    `route` is the route template ("/cases/{case_id}"), never the raw path or query string.
    Identifiers left as None are unbound, never inherited from an earlier request.
    """
    clear_request()
    context: MutableMapping[str, str] = {"request_id": request_id, "route": route}
    if actor_id is not None:
        context["actor_id"] = actor_id
    if organisation_id is not None:
        context["organisation_id"] = organisation_id
    structlog.contextvars.bind_contextvars(**context)


def clear_request() -> None:
    """Unbind the request's identifiers; anything else bound in the context stays."""
    structlog.contextvars.unbind_contextvars(*_REQUEST_KEYS)
