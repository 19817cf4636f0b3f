"""The log stream carries no survivor data: attacks on the redactor, each with a control.

Most tests run the real configured pipeline into an `io.StringIO` and search the raw text for a
canary, so that a leak anywhere (a value, a key, a traceback, a stdlib message) is caught.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.loggers import get_logger as crypto_get_logger
from services.observability.logging import (
    ADOPTED_LOGGERS,
    LOGGABLE_KEYS,
    MAX_VALUE_CHARS,
    MESSAGE_LOGGERS,
    REDACTED,
    bind_request,
    clear_request,
    configure_logging,
    get_logger,
    redact,
)
from tests.logging_support import preserved_logging
from tests.tiers import scaled

CANARY = "CANARY-7f3e-name"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Leave structlog, the root logger and the adopted loggers as this test found them."""
    with preserved_logging():
        yield


def configured(level: str = "info") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, stream=stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def only_line(stream: io.StringIO) -> dict[str, Any]:
    [line] = lines(stream)
    return line


# -- what passes ----------------------------------------------------------------------------


def test_allowed_scalar_values_pass_with_level_and_utc_timestamp() -> None:
    out = configured()
    structlog.get_logger().info(
        "case opened",
        request_id="req-1",
        status=201,
        latency_ms=1.5,
        count=3,
        version=7,
        figure=None,
        actor_id="user-1",
        route="/cases/{case_id}",
    )
    line = only_line(out)
    assert {
        k: line[k]
        for k in (
            "event",
            "request_id",
            "status",
            "latency_ms",
            "count",
            "version",
            "figure",
            "actor_id",
            "route",
            "level",
        )
    } == {
        "event": "case opened",
        "request_id": "req-1",
        "status": 201,
        "latency_ms": 1.5,
        "count": 3,
        "version": 7,
        "figure": None,
        "actor_id": "user-1",
        "route": "/cases/{case_id}",
        "level": "info",
    }
    stamp = dt.datetime.fromisoformat(line["ts"].replace("Z", "+00:00"))
    assert line["ts"].endswith("Z") and stamp.utcoffset() == dt.timedelta(0)


def test_get_logger_names_its_component() -> None:
    out = configured()
    get_logger("projections").info("caught up", lag_events=0)
    line = only_line(out)
    assert (line["component"], line["lag_events"]) == ("projections", 0)


def test_a_logger_obtained_before_configuration_goes_through_the_redactor() -> None:
    log = crypto_get_logger("projections")  # as a module does at import, in any layer
    out = configured()
    log.warning("projection interrupted", projection="cases", name=CANARY)
    line = only_line(out)
    assert (line["component"], line["projection"], line["name"]) == (
        "projections",
        "cases",
        REDACTED,
    )
    assert CANARY not in out.getvalue()
    assert get_logger is crypto_get_logger  # one helper, re-exported for the services layer


def test_every_line_is_one_json_object() -> None:
    out = configured()
    log = structlog.get_logger()
    log.info("a\nb", route='x"y')
    logging.getLogger("_granian").info("Listening at: http://127.0.0.1:8000")
    assert [line["event"] for line in lines(out)] == ["a\nb", "Listening at: http://127.0.0.1:8000"]


# -- attacks on structlog lines -----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "name",
        "client",
        "notes",
        "path",
        "query",
        "sql",
        "body",
        "exception",
        "stack_info",
        "date_of_birth",
        "Event",
    ],
)
def test_a_value_under_a_key_outside_the_allow_list_never_appears(key: str) -> None:
    out = configured()
    structlog.get_logger().info("case opened", **{key: CANARY})
    assert CANARY not in out.getvalue()
    assert only_line(out)[key] == REDACTED  # the key stays: an operator sees something was dropped


class Sneaky:
    def __str__(self) -> str:
        return CANARY

    __repr__ = __str__


@pytest.mark.parametrize(
    "value",
    [
        {"name": CANARY},
        [CANARY],
        (CANARY,),
        {CANARY},
        CANARY.encode(),
        bytearray(CANARY.encode()),
        Sneaky(),
        ValueError(CANARY),
        {"nested": [{"deeper": CANARY}]},
    ],
    ids=lambda v: type(v).__name__,
)
def test_a_non_scalar_value_under_an_allowed_key_never_appears(value: object) -> None:
    out = configured()
    structlog.get_logger().info("case opened", route=value, event_id_list=value)
    assert CANARY not in out.getvalue()
    assert only_line(out)["route"] == REDACTED


def test_a_str_subclass_is_logged_as_its_plain_text_not_its_str_method() -> None:
    class Disguised(str):
        def __str__(self) -> str:
            return CANARY

    out = configured()
    structlog.get_logger().info("x", route=Disguised("/cases"))
    assert only_line(out)["route"] == "/cases"


def test_a_value_that_is_not_valid_unicode_is_logged_in_ascii_not_raised() -> None:
    # A claim decoded from JSON can hold a lone surrogate; UTF-8 cannot encode it, so a renderer
    # that writes UTF-8 would raise inside the request (or on a stream of another encoding).
    out = configured()
    structlog.get_logger().info("x", route="/cases/\ud800", method="GÉT")
    assert out.getvalue().isascii()
    assert only_line(out)["route"] == "/cases/\ud800" and only_line(out)["method"] == "GÉT"


def test_long_strings_are_truncated() -> None:
    out = configured()
    structlog.get_logger().info("x", route="a" * MAX_VALUE_CHARS + CANARY)
    assert only_line(out)["route"] == "a" * MAX_VALUE_CHARS
    assert CANARY not in out.getvalue()


def test_keys_that_are_not_identifiers_are_dropped_and_counted() -> None:
    out = configured()
    structlog.get_logger().info("x", **{CANARY: 1, f"{CANARY} with spaces": 2, "k" * 65: 3})
    assert CANARY not in out.getvalue()
    assert only_line(out)["redacted_keys"] == 3


def test_an_exception_logs_its_type_only() -> None:
    out = configured()
    log = structlog.get_logger()
    try:
        raise ValueError(f"no such client {CANARY}")
    except ValueError:
        log.exception("command failed")
    log.error("command failed", exc_info=KeyError(CANARY))
    log.error("no exception active", exc_info=True)
    text = out.getvalue()
    assert CANARY not in text and "Traceback" not in text
    first, second, third = lines(out)
    assert (first["exc_type"], second["exc_type"]) == ("ValueError", "KeyError")
    assert "exc_type" not in third and "exc_info" not in third


@settings(max_examples=scaled(default=20, full=60), deadline=None)
@given(
    st.dictionaries(
        st.text(min_size=1, max_size=20).filter(
            lambda k: k not in LOGGABLE_KEYS and k != "exc_info"
        ),
        st.recursive(
            st.just(CANARY) | st.integers() | st.binary(),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=5), inner, max_size=3)
            ),
            max_leaves=5,
        ),
        max_size=5,
    )
)
def test_property_no_value_outside_the_allow_list_is_ever_rendered(fields: dict[str, Any]) -> None:
    rendered = structlog.processors.JSONRenderer()(
        None, "info", redact(None, "info", {"event": "x", **fields})
    )
    assert CANARY not in rendered


# -- the stdlib root --------------------------------------------------------------------------


def test_a_library_message_and_its_arguments_never_appear() -> None:
    out = configured()
    asyncpg = logging.getLogger("asyncpg")
    asyncpg.warning("query failed: SELECT * FROM clients WHERE name = %s", CANARY)
    asyncpg.warning(f"query failed for {CANARY}")
    asyncpg.warning("extra fields", extra={"client": CANARY, "count": 2, "route": {"x": CANARY}})
    try:
        raise RuntimeError(CANARY)
    except RuntimeError:
        asyncpg.exception("connection lost")
    text = out.getvalue()
    assert CANARY not in text and "Traceback" not in text and "SELECT" not in text
    first, second, third, fourth = lines(out)
    assert first == {"ts": first["ts"], "level": "warning", "logger": "asyncpg", "event": REDACTED}
    assert (third["count"], third["route"], "client" in third) == (2, REDACTED, False)
    assert (fourth["level"], fourth["exc_type"]) == ("error", "RuntimeError")


def test_granian_lifecycle_messages_are_kept_but_not_its_children_or_exceptions() -> None:
    out = configured()
    logging.getLogger("_granian").info("Listening at: http://127.0.0.1:8000")
    logging.getLogger("_granian.asgi").error(f"Application callable raised {CANARY}")
    logging.getLogger("granian.access").info(f'[t] 10.0.0.1 - "GET /search?name={CANARY}" 200')
    try:
        raise ValueError(CANARY)
    except ValueError:
        logging.getLogger("_granian").exception(f"ASGI lifespan startup failed {CANARY}")
    assert CANARY not in out.getvalue()
    assert [line["event"] for line in lines(out)] == [
        "Listening at: http://127.0.0.1:8000",
        REDACTED,
        REDACTED,
        REDACTED,
    ]


def test_libraries_that_bring_their_own_handlers_are_routed_through_the_redactor() -> None:
    leak = io.StringIO()
    for name in ADOPTED_LOGGERS:  # what granian's and litestar's dictConfig do
        logging.getLogger(name).addHandler(logging.StreamHandler(leak))
        logging.getLogger(name).propagate = False
    logging.getLogger().addHandler(logging.StreamHandler(leak))  # a stray basicConfig
    out = configured()
    for name in (*ADOPTED_LOGGERS, "asyncpg"):
        message = "Spawning worker-1" if name in MESSAGE_LOGGERS else f"GET /cases?name={CANARY}"
        logging.getLogger(name).error(message)
    assert leak.getvalue() == ""
    assert CANARY not in out.getvalue()
    assert [line["logger"] for line in lines(out)] == [*ADOPTED_LOGGERS, "asyncpg"]


def test_a_record_that_cannot_be_formatted_does_not_print_its_arguments(
    capsys: pytest.CaptureFixture[str],
) -> None:
    class Explodes:
        def __str__(self) -> str:
            raise RuntimeError(CANARY)

    out = configured()
    logging.getLogger("asyncpg").warning(Explodes(), CANARY)
    assert CANARY not in out.getvalue() + capsys.readouterr().err
    assert only_line(out)["event"] == "log record could not be formatted"


# -- request context, levels, configuration ---------------------------------------------------


def test_request_context_appears_on_every_line_and_is_cleared() -> None:
    out = configured()
    log = structlog.get_logger()
    bind_request("req-1", "/cases/{case_id}", actor_id="user-1", organisation_id="org-1")
    log.info("handled", status=200)
    logging.getLogger("asyncpg").warning("pool busy")
    bind_request("req-2", "/cases")  # no actor yet: must not inherit user-1
    log.info("unauthenticated")
    clear_request()
    log.info("idle")
    first, second, third, fourth = lines(out)
    for line in (first, second):
        assert (line["request_id"], line["route"], line["actor_id"], line["organisation_id"]) == (
            "req-1",
            "/cases/{case_id}",
            "user-1",
            "org-1",
        )
    assert (
        third["request_id"] == "req-2"
        and "actor_id" not in third
        and "organisation_id" not in third
    )
    assert not {"request_id", "route", "actor_id", "organisation_id"} & fourth.keys()


def test_clear_request_keeps_other_context() -> None:
    out = configured()
    structlog.contextvars.bind_contextvars(component="worker")
    bind_request("req-1", "/cases")
    clear_request()
    structlog.get_logger().info("tick")
    line = only_line(out)
    assert line["component"] == "worker" and "request_id" not in line


def test_the_level_filters_both_pipelines() -> None:
    out = configured("warning")
    structlog.get_logger().info("quiet")
    logging.getLogger("asyncpg").info("quiet")
    structlog.get_logger().warning("loud")
    logging.getLogger("asyncpg").warning("loud")
    assert [line["level"] for line in lines(out)] == ["warning", "warning"]


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log level"):
        configure_logging("verbose", stream=io.StringIO())


def test_configuring_again_replaces_instead_of_stacking() -> None:
    first = configured()
    second = configured()
    structlog.get_logger().info("once")
    logging.getLogger("asyncpg").warning("once")
    assert first.getvalue() == ""
    assert len(lines(second)) == 2
    assert sum(1 for h in logging.getLogger().handlers if h.formatter is not None) == 1


def test_capture_logs_with_the_redactor_sees_what_the_stream_would() -> None:
    configured()
    with structlog.testing.capture_logs(processors=[redact]) as captured:
        structlog.get_logger().info("case opened", name=CANARY, status=201)
    assert captured == [
        {"event": "case opened", "name": REDACTED, "status": 201, "log_level": "info"}
    ]


# -- controls: without the redactor, the same inputs leak -------------------------------------


def test_control_a_plain_json_renderer_leaks_the_canary() -> None:
    stream = io.StringIO()
    structlog.configure(
        processors=[structlog.processors.JSONRenderer()],
        logger_factory=structlog.WriteLoggerFactory(file=stream),
    )
    structlog.get_logger().info("case opened", name=CANARY, route={"x": CANARY})
    assert stream.getvalue().count(CANARY) == 2


def test_control_without_capture_processors_capture_logs_shows_the_raw_value() -> None:
    configured()
    with structlog.testing.capture_logs() as captured:
        structlog.get_logger().info("case opened", name=CANARY)
    assert captured[0]["name"] == CANARY


def test_control_a_plain_stdlib_handler_leaks_the_canary() -> None:
    leak = io.StringIO()
    handler = logging.StreamHandler(leak)
    logger = logging.getLogger("asyncpg.control")
    logger.addHandler(handler)
    try:
        logger.warning("query failed: %s", CANARY)
    finally:
        logger.removeHandler(handler)
    assert CANARY in leak.getvalue()


def test_control_the_property_strategy_does_produce_the_canary() -> None:
    rendered = structlog.processors.JSONRenderer()(
        None, "info", {"event": "x", "notes": [{"a": CANARY}]}
    )
    assert CANARY in rendered
