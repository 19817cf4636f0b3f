"""The case page's transfer form: the receiving organisation first, then one of its workers.

A transfer names a receiving worker whom only the receiving organisation knows, so the form
asks in two steps, neither of which needs script. The first is a GET of the case page
(`?transfer_to=O#form-transfer`) choosing one of the organisation's active partners. The page
then offers that partner's active workers as a list (`services.organisations.partner_workers`,
as `GET /v1/organisation/partners/{id}/workers` does), and the receiving team is the chosen
worker's own (`services.console.transfer_pages` posts it). A partner that keeps no worker
directory takes any worker and team id, as the API's transfer does, typed in. A partner that
does not use Haven here, or is no longer a partner, is said so at the first step.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from services.api.cases.schemas import requests as rq
from services.authorisation import Action, authorise
from services.bootstrap import Runtime
from services.console.case_forms import CaseForm, Choices, Field
from services.console.i18n import N_
from services.identity import Principal
from services.organisations.command import read_organisation
from services.organisations.partner_workers import UnknownPartner, partner_directory

NOT_A_PARTNER = N_("Choose one of your organisation's partner organisations that use Haven here.")
UNKNOWN_WORKER = N_("Choose an active worker of the receiving organisation.")
RECIPIENT, WORKER, TEAM = "recipient_organisation", "receiving_worker_id", "receiving_team_id"
MOST_ID_LENGTH = 200  # longer is no organisation's id: not even looked up

TRANSFER = CaseForm(
    "transfer", N_("Ask another organisation to take the case over (assigned worker only)"),
    N_("Ask for the transfer"), rq.TransferCaseBody,
    (
        Field(RECIPIENT, N_("Receiving organisation"), required=True),
        Field("consent_id", N_("Consent (purpose: case transfer)"), "select", "consents",
              required=True),
        Field("requested_on", N_("Requested on"), "date", required=True, default="today",
              hint=N_("YYYY-MM-DD")),
        Field(WORKER, N_("Receiving worker"), required=True),
        Field(TEAM, N_("Receiving team"), required=True),
        Field("living_situation", N_("Living situation"), "select", "living_situation",
              default="unknown"),
    ),
    action=Action.CASE_TRANSFER,
    command=lambda body, *_: body.command(str(uuid.uuid4())),  # the receiving case's id
)  # fmt: skip


class TransferStep(NamedTuple):
    """Where the form is: the partners to choose from, and once one is chosen, its workers."""

    partners: Choices  # (id, name) of the organisation's active partners
    chosen: str | None = None  # a partner of this deployment, chosen
    chosen_name: str = ""
    workers: Choices | None = None  # (id, "name (team)"); None: its worker ids are typed in
    error: str | None = None  # at the first step: what was chosen is no partner here

    @property
    def fields(self) -> tuple[Field, ...]:
        """The second step's fields: the receiving organisation is the one chosen, and with
        a worker directory the team is the chosen worker's."""
        hidden = {RECIPIENT} | ({TEAM} if self.workers is not None else set())
        return tuple(f for f in TRANSFER.fields if f.name not in hidden)


async def transfer_step(runtime: Runtime, principal: Principal, chosen: str | None) -> TransferStep:
    """The form's step for `principal`, `chosen` the partner they chose (None: none yet).
    Someone who may not ask for transfers is offered no partner."""
    if not authorise(principal, Action.ORGANISATION_PARTNER_WORKERS, None).allowed:
        return TransferStep([])
    own = await read_organisation(runtime.store, principal.organisation_id)
    active = sorted(
        (p for p in own.partners.values() if p.active), key=lambda p: (p.display_name, p.partner_id)
    )
    partners = [(p.partner_id, p.display_name) for p in active]
    if not chosen:
        return TransferStep(partners)
    try:
        if len(chosen) > MOST_ID_LENGTH:
            raise UnknownPartner()
        theirs = await partner_directory(runtime.store, principal.organisation_id, chosen)
    except UnknownPartner:
        return TransferStep(partners, error=NOT_A_PARTNER)
    name = dict(partners)[chosen]
    if not theirs.has_worker_directory:
        return TransferStep(partners, chosen, name)
    workers = [
        (w.worker_id, f"{w.display_name} ({_team_name(theirs.teams, w.team_id)})")
        for w in theirs.active_workers()
    ]
    return TransferStep(partners, chosen, name, workers)


def _team_name(teams: Any, team_id: str) -> str:
    team = teams.get(team_id)
    return team.name if team is not None else team_id
