"""What an organisation's entries may hold: each fault as (JSON pointer, rule), never the value.

Text members follow `domain.text` (by their names: ``*_id`` identifiers, ``description``
long text, the rest text); beyond it:

* names are not blank; a profile's ``state`` is a USPS state code;
* a description holds no contact details (no email address, no telephone number): a
  profile is shown to partner organisations, and a shelter's whereabouts are never in it;
* an organisation is not its own partner; a partner's direction is one of `DIRECTIONS`;
* an active worker is on an active team of the organisation, or on `DEFAULT_TEAM` (the team
  of a token without a team claim); a team keeps its active workers (it is not deactivated
  while any is on it);
* at most `MAX_ENTRIES` teams, partners and workers each.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping

from domain.organisation.events import (
    DIRECTIONS,
    Organisation,
    Partner,
    Profile,
    Team,
    Worker,
)
from domain.text import text_faults
from domain.us_states import STATE_FIPS

Fault = tuple[str, str]

DEFAULT_TEAM = "default"  # as `services.identity.claims.DEFAULT_TEAM`
MAX_ENTRIES = 10_000
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
_TELEPHONE = re.compile(r"\+?\d(?:[\d ().\-]{5,}\d)")
_URL = re.compile(r"(?i)\b(?:https?://|www\.)")
CONTACT_RULE = "must hold no contact details (email address, telephone number or web address)"


def profile_faults(profile: Profile) -> list[Fault]:
    faults = list(text_faults(profile))
    faults += _blank(profile.display_name, "/display_name")
    if _has_contact(profile.description) or _has_contact(profile.display_name):
        member = "/description" if _has_contact(profile.description) else "/display_name"
        faults.append((member, CONTACT_RULE))
    if profile.state is not None and profile.state not in STATE_FIPS:
        faults.append(("/state", "must be a USPS state code as IL"))
    return _first_per_pointer(faults)


def team_faults(organisation: Organisation, team: Team) -> list[Fault]:
    faults = list(text_faults(team))
    faults += _blank(team.name, "/name")
    faults += _room(organisation.teams, team.team_id, "/team_id")
    if not team.active and any(
        w.active and w.team_id == team.team_id for w in organisation.workers.values()
    ):
        faults.append(("/active", "a team with active workers stays active; move them first"))
    return _first_per_pointer(faults)


def partner_faults(
    organisation_id: str, organisation: Organisation, partner: Partner
) -> list[Fault]:
    faults = list(text_faults(partner))
    faults += _blank(partner.display_name, "/display_name")
    if partner.partner_id == organisation_id:
        faults.append(("/partner_id", "must be another organisation than this one"))
    if partner.direction not in DIRECTIONS:
        faults.append(("/direction", f"must be one of {', '.join(DIRECTIONS)}"))
    faults += _room(organisation.partners, partner.partner_id, "/partner_id")
    return _first_per_pointer(faults)


def worker_faults(organisation: Organisation, worker: Worker) -> list[Fault]:
    faults = list(text_faults(worker))
    faults += _blank(worker.display_name, "/display_name")
    team = organisation.teams.get(worker.team_id)
    if worker.active and worker.team_id != DEFAULT_TEAM and (team is None or not team.active):
        faults.append(
            ("/team_id", f"must be an active team of the organisation, or {DEFAULT_TEAM}")
        )
    faults += _room(organisation.workers, worker.worker_id, "/worker_id")
    return _first_per_pointer(faults)


def _has_contact(text: str) -> bool:
    return any(p.search(text) is not None for p in (_EMAIL, _TELEPHONE, _URL))


def _room(entries: Mapping[str, object], key: str, at: str) -> Iterator[Fault]:
    if key not in entries and len(entries) >= MAX_ENTRIES:
        yield at, f"the organisation already has {MAX_ENTRIES}; deactivate and reuse one"


def _blank(value: str, at: str) -> Iterator[Fault]:
    if isinstance(value, str) and not value.strip():
        yield at, "must not be empty"


def _first_per_pointer(faults: list[Fault]) -> list[Fault]:
    seen: dict[str, str] = {}
    for pointer, rule in faults:
        seen.setdefault(pointer, rule)
    return list(seen.items())
