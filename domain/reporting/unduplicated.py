"""Clients counted once across organisations, without any identifier leaving one (GBVIMS).

The law forbids an organisation to disclose a client's identifiers to another, even hashed
(REFERENCE §3.1), so no roll-up can match one organisation's clients with another's. As the
GBV Information Management System does, each intake records instead whether the client says
another agency served them (`Intake.served_by_another_agency`; a case received by transfer
counts as served by another agency, the sender). A roll-up across organisations then reports:

* ``reported``: the sum of every organisation's clients — counts a client served by two
  organisations twice (the upper bound);
* ``served_by_another_agency``: how many of them say another agency served them;
* ``unduplicated``: ``reported`` less those, each presumed counted by the agency that served
  them first (the GBVIMS convention; the lower bound — a client whose other agency is not in
  the roll-up is not counted at all).

The true number of people lies between ``unduplicated`` and ``reported``. The federal release
(`services.reporting`) is not changed by this: its codebook counts each organisation's clients,
and the flag would enter it only through a new codebook version. These are true counts: like
every count about people they are published only through the disclosure policy (k = 11).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple


class OrganisationClients(NamedTuple):
    organisation: str
    clients: int
    served_by_another_agency: int  # of `clients`


class RolledUpClients(NamedTuple):
    organisations: int
    reported: int
    served_by_another_agency: int
    unduplicated: int


def roll_up_clients(counts: Iterable[OrganisationClients]) -> RolledUpClients:
    """The roll-up of the organisations' counts (module doc). ValueError for a count that is
    negative or flags more clients than it has."""
    organisations = reported = flagged = 0
    for count in counts:
        if count.clients < 0 or not 0 <= count.served_by_another_agency <= count.clients:
            raise ValueError("an organisation's counts are not counts of its clients")
        organisations += 1
        reported += count.clients
        flagged += count.served_by_another_agency
    return RolledUpClients(organisations, reported, flagged, reported - flagged)
