"""The access records of the case routes: the write path's (`services.commands.case_access`),
and the request id each record carries.
"""

from __future__ import annotations

from typing import Any

from services.api import observe
from services.commands.case_access import (
    acting_role,
    break_glass_grant,
    may_break_glass,
    record,
)

__all__ = ["acting_role", "break_glass_grant", "may_break_glass", "record", "request_id"]


def request_id(request: Any) -> str | None:
    return observe.request_id(request.scope)
