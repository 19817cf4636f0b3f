"""What a case read records before it answers: who read which part, on what basis.

A read fails closed: its access record commits before anything is returned, and if it cannot
be recorded nothing is returned (`events.access_log.AccessNotRecorded`, 503 over HTTP).
"""

from __future__ import annotations

import uuid
from typing import Any

from events.access_log import BreakGlassGrant, active_grant, record_access
from events.store import Connection, utc_now
from services.authorisation import RULES, Action, Basis, CaseFacts
from services.bootstrap import Runtime
from services.identity import Principal


def acting_role(principal: Principal, action: Action, basis: Basis | None) -> str:
    """The caller's role whose rule gave `basis` (for the access record)."""
    rule = RULES[action]
    for role in sorted(principal.roles):
        if any(grant.basis is basis for grant in rule.grants.get(role, ())):
            return role
    return sorted(principal.roles)[0]


def may_break_glass(principal: Principal) -> bool:
    """Only supervisors' rules count a break-the-glass grant."""
    return "supervisor" in principal.roles


async def break_glass_grant(
    runtime: Runtime, principal: Principal, facts: CaseFacts | None, case_id: uuid.UUID
) -> BreakGlassGrant | None:
    """The supervisor's active grant on the case."""
    if not may_break_glass(principal) or facts is None:
        return None
    return await active_grant(
        runtime.pool, principal.organisation_id, case_id, principal.user_id, utc_now()
    )


async def record(
    conn: Connection | Any,
    request_id: str | None,
    principal: Principal,
    case_id: uuid.UUID,
    action: Action,
    basis: Basis | None,
    part: str,
    grant: BreakGlassGrant | None = None,
    at_version: int | None = None,
    reason: str | None = None,
) -> bool:
    return await record_access(
        conn,
        tenant_id=principal.organisation_id,
        case_id=case_id,
        actor_id=principal.user_id,
        role=acting_role(principal, action, basis),
        part=part,
        basis=str(basis),
        grant_id=grant.grant_id if basis is Basis.BREAK_GLASS and grant else None,
        request_id=request_id,
        at_version=at_version,
        reason=reason,
    )
