"""A case command form's submission, through the write path as the API's routes go: the
version the form was rendered from as If-Match, the form's own idempotency key, and the text
rules of what it asks. The caller turns a refusal into its page."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request

from domain.case import commands as cmd
from domain.text import text_faults
from events.errors import ConcurrencyConflict
from services.api import observe
from services.api.cases.schemas.views import CommandAccepted
from services.authorisation import Action
from services.bootstrap import Runtime
from services.commands import case_commands
from services.commands.case_commands import CaseCommandRequest
from services.commands.ports import Actor
from services.commands.refusals import ConcurrentChange, PreconditionFailed
from services.console import forms
from services.console.changes import form_version
from services.console.web import Console, SignedIn

# The case changed after the form was rendered: the conflict page answers.
CONFLICTS = (ConcurrencyConflict, ConcurrentChange, PreconditionFailed)


async def submit(
    request: Request[Any, Any, Any],
    runtime: Runtime,
    console: Console,
    signed: SignedIn,
    case_id: uuid.UUID,
    action: Action,
    command: cmd.Command,
    body: msgspec.Struct,
    form: Mapping[str, str],
    asked_of: str,
) -> None:
    """Run `command` on the case; `asked_of` is what the form's idempotency hash names (the
    path, with the id of what the form acts on where the API has it in its path)."""
    principal = signed.session.principal()
    await case_commands.run_case_command(
        runtime,
        CaseCommandRequest(
            principal=principal,
            actor=Actor(
                principal.user_id, principal.organisation_id, observe.request_id(request.scope)
            ),
            case_id=case_id,
            action=action,
            command=command,
            expected_version=form_version(form.get("version", "")),
            idempotency=forms.form_idempotency(form, asked_of, body),
            faults=list(text_faults(body)),
            team_access=console.settings.team_access_for(principal.organisation_id),
            answer=lambda v: CommandAccepted(case_id=str(case_id), version=v),
        ),
    )
