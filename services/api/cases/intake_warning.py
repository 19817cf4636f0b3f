"""The likely-duplicate warning an intake's answer carries (`services.case_finding`).

An intake is never refused for resembling another case: the case is opened, and its 201
answer adds ``duplicate_warning`` when cases of the organisation share one of its names (or
aliases) with its date of birth, or one of its phone numbers: how many, on what, and the ids of
those the caller may open. The warning is worked out after the command and is not part of the
answer stored with the Idempotency-Key (which holds ids and versions only); a replay works it
out again.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec

from domain.case import commands as cmd
from events.access_log import AccessNotRecorded
from projections.queries import ViewNotBuilt
from services.api.cases import access
from services.api.cases.http import team_access
from services.api.cases.openapi import accepted_spec
from services.bootstrap import Runtime
from services.case_finding.finding import DuplicateWarning, likely_duplicates
from services.commands.unit_of_work import Answer
from services.identity import Principal


class CaseOpenedAnswer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """The 201 of an intake: the case's id and version, and the warning when there is one."""

    case_id: str
    version: int
    duplicate_warning: DuplicateWarning | None = None


OPENED_SPEC = accepted_spec(
    "The case was opened: `Location` names it, `ETag` its version. When cases of the "
    "organisation share a name and date of birth, or a phone number, with the intake, "
    "`duplicate_warning` says how many, on what, and which the caller may open (the case is "
    "opened all the same).",
    container=CaseOpenedAnswer,
)


class _Opened(msgspec.Struct, frozen=True):
    case_id: str
    version: int


async def with_duplicate_warning(
    request: Any, runtime: Runtime, principal: Principal, command: cmd.OpenCase, answer: Answer
) -> Answer:
    """`answer`, with the warning added when the intake likely duplicates a case."""
    if answer.status != 201:
        return answer
    opened = msgspec.json.decode(answer.body, type=_Opened)
    try:
        warning = await likely_duplicates(
            runtime,
            principal,
            access.request_id(request),
            team_access(request),
            command.identity,
            command.contact,
            uuid.UUID(opened.case_id),
        )
    except ViewNotBuilt:
        return answer  # no index yet: nothing to compare with
    except AccessNotRecorded:
        return answer  # the case is opened; the cases it resembles are not shown unrecorded
    if warning is None:
        return answer
    body = CaseOpenedAnswer(
        case_id=opened.case_id, version=opened.version, duplicate_warning=warning
    )
    return Answer(answer.status, msgspec.json.encode(body))
