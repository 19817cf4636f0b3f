"""Clients counted once across organisations, without any identifier leaving one (GBVIMS).

The law forbids an organisation to disclose a client's identifiers to another, even hashed
(REFERENCE §3.1), so no roll-up can match one organisation's clients with another's. As the
GBV Information Management System does, each intake records instead whether the client says
another agency served them (`Intake.served_by_another_agency`); a case received by transfer
counts as served by another agency, the sender (`served_by_another_agency`).

The federal codebook publishes the flag as a breakdown of the consenting clients served in the
quarter (`tims_served_by_another_agency`, family ``served_elsewhere``). Summed over a roll-up,
its cells are:

* ``total``: every organisation's consenting clients — a client served by two organisations
  counts twice (the upper bound);
* ``yes``: how many of them say another agency served them;
* ``no``: the unduplicated count, each client presumed counted by the agency that served them
  first (the GBVIMS convention; the lower bound — a client whose other agency is not in the
  roll-up is not counted at all).

The true number of people lies between ``no`` and ``total``. Like every count about people,
these are published only through the disclosure policy (k = 11, the exact audit).
"""

from __future__ import annotations

from domain.case.events import CaseOpened


def served_by_another_agency(opened: CaseOpened) -> bool:
    """Whether another agency served the client of a case, from its opening: the intake's
    answer, or true for a case received by transfer."""
    return opened.intake.served_by_another_agency or opened.transferred_in
