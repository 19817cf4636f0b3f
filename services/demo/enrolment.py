"""What the demo plans when a case starts: at its intake, and again at each reopening.

A first enrolment gets the full plan drawn for its profile (statistics consent, needs and
goals, services, outcome assessments, referrals, immigration relief, the status and
trafficking context confirmed later, a spare release); a reopening gets a shorter one.
"""

from __future__ import annotations

import datetime as dt

from services.demo.agenda import PlannedStream
from services.demo.draws import draw_day, draw_weighted
from services.demo.fiction import outcome_domains
from services.demo.immigration import ImmigrationPlanner
from services.demo.referrals import ReferralPlanner


class EnrolmentPlanner(ReferralPlanner, ImmigrationPlanner):
    """Plans an enrolment's work, from care to referrals to immigration relief."""

    def start_enrolment(self, stream: PlannedStream, day: dt.date, *, first: bool) -> None:
        rng, profile = self.rng, stream.profile
        if first:
            self.at(
                day if rng.random() < 0.85 else draw_day(day, 1, 30, rng),
                stream,
                self.record_statistics_consent,
                profile.statistics,
            )
            if rng.random() < 0.1:
                self.at(
                    draw_day(day, 60, 400, rng),
                    stream,
                    self.record_statistics_consent,
                    not profile.statistics,
                )
        needs_on = draw_day(day, 0, 7, rng)
        self.at(needs_on, stream, self.assess_needs, profile.forced_service if first else None)
        self.at(draw_day(needs_on, 0, 14, rng), stream, self.set_goals)
        for reassessment in range(rng.choice((0, 0, 1, 2))):
            low = 120 * (reassessment + 1)
            self.at(draw_day(needs_on, low, low + 90, rng), stream, self.assess_needs, None)
        self.at(
            draw_day(day, 0, 3, rng),
            stream,
            self.record_service,
            None,
            rng.randint(3, 10) if first else rng.randint(1, 4),
            profile.forced_service if first else None,
        )
        self.at(
            draw_day(day, 3, 21, rng),
            stream,
            self.assess_outcome,
            outcome_domains(rng),
            None,
            rng.randint(2, 8) if first else rng.randint(1, 3),
        )
        targets = (
            profile.referrals
            if first
            else tuple(
                draw_weighted(rng, {"completed": 3, "declined": 1, "expired": 1})
                for _ in range(rng.randint(0, 2))
            )
        )
        for k, target in enumerate(targets):
            kind = (
                ("internal", "external")[k % 2]
                if profile.alternate_kinds
                else ("external" if rng.random() < 0.55 else "internal")
            )
            self.at(
                draw_day(day, 3, 240 if first else 90, rng),
                stream,
                self.propose_referral,
                target,
                kind,
            )
        if first:
            for k, kind in enumerate(profile.immigration):
                self.at(
                    draw_day(day, 7 + 20 * k, 60 + 20 * k, rng),
                    stream,
                    self.record_immigration_step,
                    kind,
                    None,
                    0,
                )
            status = stream.state.victim_status
            if status and status.status == "strong_indicators" and rng.random() < 0.45:
                self.at(draw_day(day, 14, 240, rng), stream, self.confirm_status)
            if profile.trafficking_type == "unknown" and rng.random() < 0.6 or rng.random() < 0.2:
                self.at(draw_day(day, 10, 120, rng), stream, self.update_trafficking)
            if rng.random() < 0.3 or profile.extra_revoke:
                self.at(
                    draw_day(day, 5, 90, rng),
                    stream,
                    self.grant_spare_consent,
                    profile.extra_revoke,
                )
        if rng.random() < 0.18:
            self.at(draw_day(day, 20, 300, rng), stream, self.reassign)
