"""The HTTP side of a case command: the request's headers and body become a use case's
inputs (`services.commands`), and its answer becomes the response, here and nowhere else.

`If-Match: "<version>"` names the version the caller saw (a strong entity tag; `*`, a weak or
a malformed tag names none a case has). `Idempotency-Key` (1 to 100 printable characters) is
hashed with the request (method, path, canonical JSON of the parsed body). Refusals are the
write path's exceptions, mapped to problems by `services.api.errors`.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import msgspec
from litestar import Request, Response

from domain.case import commands as cmd
from domain.text import text_faults
from events import idempotency
from services.api import observe
from services.api.cases.openapi import JSON, MAX_IDEMPOTENCY_KEY, MAX_VERSION_DIGITS
from services.api.cases.schemas.views import CommandAccepted
from services.authorisation import Action
from services.bootstrap import Runtime
from services.commands.case_commands import AnswerBody, CaseCommandRequest, run_case_command
from services.commands.ports import Actor
from services.commands.unit_of_work import Answer, Idempotency
from services.identity import Principal
from services.settings import Settings

IDEMPOTENCY_HEADER = "idempotency-key"
ENCODE = msgspec.json.Encoder().encode
_ETAG = re.compile(rf'^"([1-9][0-9]{{0,{MAX_VERSION_DIGITS - 1}}})"$')
_KEY_RULE = f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable characters"


def team_access(request: Request[Principal, Any, Any]) -> bool:
    """Whether the caller's organisation lets case workers work their team's cases
    (`HAVEN_TEAM_ACCESS`, read once into `Settings` and handed to the app by `create_app`)."""
    settings: Settings = request.app.state.settings
    return settings.team_access_for(request.user.organisation_id)


def actor_of(principal: Principal, request: Request[Any, Any, Any]) -> Actor:
    return Actor(principal.user_id, principal.organisation_id, observe.request_id(request.scope))


def etag(version: int) -> str:
    return f'"{version}"'


def tagged_version(value: str) -> int | None:
    """The version a strong entity tag `"<version>"` names; None for `*`, a weak or a
    malformed tag, which never match a case version."""
    matched = _ETAG.match(value.strip())
    return int(matched.group(1)) if matched is not None else None


def expected_version(request: Request[Any, Any, Any]) -> int | None:
    """The version `If-Match` names: None when it is missing, 0 when it names none a case has."""
    value = request.headers.get("if-match")
    if value is None:
        return None
    version = tagged_version(value)
    return 0 if version is None else version


def body_faults(body: msgspec.Struct) -> list[tuple[str, str]]:
    """Each member of the body whose text breaks its rule (`domain.text`), as (pointer, rule)."""
    return list(text_faults(body))


def request_faults(
    request: Request[Any, Any, Any], body: msgspec.Struct
) -> tuple[Idempotency, list[tuple[str, str]]]:
    """The request's idempotency, and what it breaks: its body's text rules, or else a
    malformed Idempotency-Key."""
    hashed = idempotency.request_hash(request.method, request.url.path, ENCODE(body))
    faults = body_faults(body)
    key, key_faults = idempotency_key(request)
    return Idempotency(key, hashed), faults or key_faults


def idempotency_key(request: Request[Any, Any, Any]) -> tuple[str | None, list[tuple[str, str]]]:
    """The request's Idempotency-Key (None: none sent, or a malformed one), and its fault: one
    sent twice, empty, blank, longer than `MAX_IDEMPOTENCY_KEY` or not printable."""
    values = request.headers.getall(IDEMPOTENCY_HEADER, [])
    key = values[0] if values else None
    if key is not None and (
        len(values) != 1
        or not 0 < len(key) <= MAX_IDEMPOTENCY_KEY
        or not key.isprintable()
        or key.isspace()
    ):
        return None, [("#/header/Idempotency-Key", _KEY_RULE)]
    return key, []


def answer_response(answer: Answer, location: str | None = None) -> Response[bytes]:
    """A command's answer as sent: its status and body, `ETag` naming the case's version."""
    version = msgspec.json.decode(answer.body, type=CommandAccepted)  # extra members ignored
    headers = {"ETag": etag(version.version)}
    if location is not None:
        headers["Location"] = location
    return Response(
        content=answer.body, status_code=answer.status, media_type=JSON, headers=headers
    )


async def case_command(
    request: Request[Principal, Any, Any],
    runtime: Runtime,
    case_id: uuid.UUID,
    action: Action,
    body: msgspec.Struct,
    command: cmd.Command,
    *,
    answer: AnswerBody | None = None,
    check: Any = None,
) -> Response[bytes]:
    """One command on an existing case, through the write path, answered as HTTP."""
    idempotent, faults = request_faults(request, body)
    answered = await run_case_command(
        runtime,
        CaseCommandRequest(
            principal=request.user,
            actor=actor_of(request.user, request),
            case_id=case_id,
            action=action,
            command=command,
            expected_version=expected_version(request),
            idempotency=idempotent,
            faults=faults,
            team_access=team_access(request),
            check=check,
            answer=answer
            or (lambda version: CommandAccepted(case_id=str(case_id), version=version)),
        ),
    )
    return answer_response(answered)
