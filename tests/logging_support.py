"""Tests that configure logging leave structlog, the root logger and the loggers Haven
adopts exactly as they found them."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

import structlog

from services.observability.logging import ADOPTED_LOGGERS


@contextlib.contextmanager
def preserved_logging() -> Iterator[None]:
    root = logging.getLogger()
    saved_root = (list(root.handlers), root.level)
    adopted = [logging.getLogger(name) for name in ADOPTED_LOGGERS]
    saved_adopted = [(list(lg.handlers), lg.propagate) for lg in adopted]
    try:
        yield
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved_root[0]:
            root.addHandler(handler)
        root.setLevel(saved_root[1])
        for lg, (handlers, propagate) in zip(adopted, saved_adopted, strict=True):
            for handler in list(lg.handlers):
                lg.removeHandler(handler)
            for handler in handlers:
                lg.addHandler(handler)
            lg.propagate = propagate
