"""A richer, longer case life for the demo generator: `demo_plan(..., rich=True)`.

For benchmarks that need many events without as many clients (`haven bench report`), it
plans more of what a case worker records over a case's life, not other kinds of records.
`RichPlanner` plans everything `Planner` does and, for each enrolment:

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
About 50 events per intake, where the default plan gives about 28 (tested).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from domain.case import commands as cmd
from services.demo.agenda import PlannedStream
from services.demo.draws import draw_day, draw_weighted
from services.demo.planner import Planner

CHECK_INS = (5, 13)  # per first enrolment (a reopening gets a third as many)
CHECK_IN_GAP = (7, 21)  # days between check-ins
REVIEWS = (1, 3)  # needs reviews per first enrolment
REVIEW_GAP = (75, 110)  # days between reviews
EXTRA_REFERRALS = (1, 3)  # per first enrolment, beyond the default plan's
RENEW_BEFORE = (3, 21)  # days before expiry a release in use is signed again
REFERRAL_TARGETS = {
    "completed": 45,
    "in_progress": 15,
    "accepted": 8,
    "declined": 12,
    "expired": 8,
    "sent": 6,
    "revoked": 6,
}


class RichPlanner(Planner):
    """`Planner` with the richer case life described in the module doc."""

    def start_enrolment(self, stream: PlannedStream, day: dt.date, *, first: bool) -> None:
        super().start_enrolment(stream, day, first=first)
        rng = self.rng
        check_ins = rng.randint(*CHECK_INS)
        self.at(
            draw_day(day, *CHECK_IN_GAP, rng),
            stream,
            self.check_in,
            check_ins if first else check_ins // 3,
        )
        review_on = day
        for _ in range(rng.randint(*REVIEWS) if first else rng.randint(0, 1)):
            review_on = draw_day(review_on, *REVIEW_GAP, rng)
            self.at(review_on, stream, self.review_needs)
        for _ in range(rng.randint(*EXTRA_REFERRALS) if first else rng.randint(0, 1)):
            kind = "external" if rng.random() < 0.55 else "internal"
            self.at(
                draw_day(day, 14, 360, rng),
                stream,
                self.propose_referral,
                draw_weighted(rng, REFERRAL_TARGETS),
                kind,
            )

    def check_in(self, stream: PlannedStream, day: dt.date, remaining: int) -> None:
        rng = self.rng
        category = "case_management" if rng.random() < 0.7 else rng.choice(stream.current_needs())
        self.do(
            stream,
            "record_service",
            self.actor(stream),
            cmd.RecordService(
                service_id=stream.next_id("service"),
                category=category,
                delivered_on=day,
                units=1,
                minutes=rng.choice((15, 20, 30, 45, 60)),
                provider="internal",
                notes="Synthetic check-in note." if rng.random() < 0.1 else None,
            ),
        )
        if remaining > 1:
            self.at(draw_day(day, *CHECK_IN_GAP, rng), stream, self.check_in, remaining - 1)

    def review_needs(self, stream: PlannedStream, day: dt.date) -> None:
        self.assess_needs(stream, day, None)
        self.at(draw_day(day, 0, 7, self.rng), stream, self.set_goals)

    def grant_consent(
        self,
        stream: PlannedStream,
        day: dt.date,
        recipient: str,
        purpose: str,
        categories: Iterable[str],
        days: int,
        *,
        revocable: bool = True,
    ) -> str:
        categories = tuple(categories)
        consent_id = super().grant_consent(
            stream, day, recipient, purpose, categories, days, revocable=revocable
        )
        if purpose != "case_transfer":  # a transfer's release is used once, on the transfer
            renew_on = day + dt.timedelta(days=days - self.rng.randint(*RENEW_BEFORE))
            if renew_on > day:
                self.at(renew_on, stream, self.renew_consent, consent_id)
        return consent_id

    def renew_consent(self, stream: PlannedStream, day: dt.date, consent_id: str) -> None:
        """Sign the release again if it is still in force and still relied on (or, at times,
        kept for coordination anyway)."""
        consent = stream.state.consents[consent_id]
        granted = consent.granted
        if consent.revoked is not None or not consent.active_on(day):
            return
        relied_on = any(
            r.is_open and r.proposed.consent_id == consent_id
            for r in stream.state.referrals.values()
        )
        if not relied_on and self.rng.random() >= 0.4:
            return
        self.grant_consent(
            stream,
            day,
            granted.recipient_organisation,
            granted.purpose,
            granted.data_categories,
            self.rng.randint(180, 366),
        )
