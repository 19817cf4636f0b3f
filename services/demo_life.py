"""A richer, longer case life for the demo generator: `demo_plan(..., rich=True)`.

The default demo plans about 28 events per intake. A benchmark that must reach millions of
events without millions of clients (`haven bench report`: 100,000 clients, about 5,000,000
events) asks for more of what a case worker records over a case's life, not for other kinds
of records. `RichPlanner` plans everything `_Planner` does and, for each enrolment:

* check-ins: a contact logged every one to three weeks (mostly case management, otherwise one
  of the client's current needs), for as long as the case stays open, up to a cap;
* needs reviews about every quarter: a new needs assessment, then goals for it (followed up
  and finished or dropped like the first ones);
* more referrals, most of them answered and worked through (accepted, in progress,
  completed, with their services), external ones under a consent like any other;
* consent renewals: a release still in use near its expiry is signed again for another
  term, before the old one lapses.

All of it goes through the planner's `do`, so every command is decided by the domain as it is
planned, and the bulk path decides it again. Synthetic data only, as the rest of the demo.
About 50 events per intake (tested).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from domain.case import commands as cmd
from services.demo import _days, _Planner, _Stream, _weighted

CHECK_INS = (5, 13)           # per first enrolment (a reopening gets a third as many)
CHECK_IN_GAP = (7, 21)        # days between check-ins
REVIEWS = (1, 3)              # needs reviews per first enrolment
REVIEW_GAP = (75, 110)        # days between reviews
EXTRA_REFERRALS = (1, 3)      # per first enrolment, beyond the default plan's
RENEW_BEFORE = (3, 21)        # days before expiry a release in use is signed again
_TARGETS = {"completed": 45, "in_progress": 15, "accepted": 8, "declined": 12, "expired": 8, "sent": 6,
            "revoked": 6}


class RichPlanner(_Planner):
    """`_Planner` with the richer case life described in the module doc."""

    def _start_enrolment(self, stream: _Stream, day: dt.date, *, first: bool) -> None:
        super()._start_enrolment(stream, day, first=first)
        rng = self.rng
        check_ins = rng.randint(*CHECK_INS)
        self.at(_days(day, *CHECK_IN_GAP, rng), stream, self._check_in, check_ins if first else check_ins // 3)
        review_on = day
        for _ in range(rng.randint(*REVIEWS) if first else rng.randint(0, 1)):
            review_on = _days(review_on, *REVIEW_GAP, rng)
            self.at(review_on, stream, self._review)
        for _ in range(rng.randint(*EXTRA_REFERRALS) if first else rng.randint(0, 1)):
            kind = "external" if rng.random() < 0.55 else "internal"
            self.at(_days(day, 14, 360, rng), stream, self._propose, _weighted(rng, _TARGETS), kind)

    def _check_in(self, stream: _Stream, day: dt.date, remaining: int) -> None:
        rng = self.rng
        category = "case_management" if rng.random() < 0.7 else rng.choice(self._current_needs(stream))
        self.do(stream, "record_service", self.actor(stream), cmd.RecordService(
            service_id=stream.next_id("service"), category=category, delivered_on=day, units=1,
            minutes=rng.choice((15, 20, 30, 45, 60)), provider="internal",
            notes="Synthetic check-in note." if rng.random() < 0.1 else None))
        if remaining > 1:
            self.at(_days(day, *CHECK_IN_GAP, rng), stream, self._check_in, remaining - 1)

    def _review(self, stream: _Stream, day: dt.date) -> None:
        self._assess_needs(stream, day, None)
        self.at(_days(day, 0, 7, self.rng), stream, self._set_goals)

    def _grant(self, stream: _Stream, day: dt.date, recipient: str, purpose: str, categories: Iterable[str],
               days: int, *, revocable: bool = True) -> str:
        categories = tuple(categories)
        consent_id = super()._grant(stream, day, recipient, purpose, categories, days, revocable=revocable)
        if purpose != "case_transfer":  # a transfer's release is used once, on the transfer
            renew_on = day + dt.timedelta(days=days - self.rng.randint(*RENEW_BEFORE))
            if renew_on > day:
                self.at(renew_on, stream, self._renew, consent_id)
        return consent_id

    def _renew(self, stream: _Stream, day: dt.date, consent_id: str) -> None:
        """Sign the release again if it is still in force and still relied on (or, now and
        then, kept for coordination anyway)."""
        consent = stream.state.consents[consent_id]
        granted = consent.granted
        if consent.revoked is not None or not consent.active_on(day):
            return
        relied_on = any(r.is_open and r.proposed.consent_id == consent_id for r in stream.state.referrals.values())
        if not relied_on and self.rng.random() >= 0.4:
            return
        self._grant(stream, day, granted.recipient_organisation, granted.purpose, granted.data_categories,
                    self.rng.randint(180, 366))
