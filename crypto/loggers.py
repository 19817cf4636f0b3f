"""The one way Haven's code obtains a logger: `get_logger(component)`.

It lives in the lowest layer that may import structlog (`domain/` never logs), so that
`crypto`, `events`, `projections` and `services` all reach it without importing upwards.
What a line may carry is decided by `services.observability.logging.configure_logging`,
whose redactor applies to every logger this returns.
"""

from __future__ import annotations

from typing import Any

import structlog


def get_logger(component: str) -> Any:
    """A structlog logger whose lines carry `component` (e.g. "api", "projections").

    The logger binds the configuration in force at its first use, so a module may obtain
    it at import time, before `configure_logging` runs.
    """
    return structlog.get_logger(component=component)
