"""How a demo case ends or moves: closure, reopening, and transfer to another organisation,
including what the receiving organisation does with the case it picks up.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

from domain.case import commands as cmd
from domain.case.lifecycles import OBTAINED_STEPS
from domain.case.state import CaseState
from domain.case.values import VictimStatus
from services.demo.agenda import PlannedStream
from services.demo.draws import draw_day, draw_weighted
from services.demo.enrolment import EnrolmentPlanner
from services.demo.fiction import outcome_domains
from services.demo.organisations import Organisation


def obtained_relief(state: CaseState) -> dict[str, bool]:
    """The closure's record of the immigration relief the case obtained."""

    def obtained(*kinds: str) -> bool:
        return any(
            step in OBTAINED_STEPS[m.kind]
            for m in state.milestones.values()
            if m.kind in kinds
            for step, _ in m.history
        )

    return {
        "obtained_continued_presence": obtained("continued_presence"),
        "obtained_t_visa": obtained("t_visa"),
        "obtained_hhs_letter": obtained("hhs_certification", "hhs_eligibility"),
    }


class ClosurePlanner(EnrolmentPlanner):
    """Plans closures, reopenings and transfers, and the received side of a transfer."""

    def close(self, stream: PlannedStream, day: dt.date, reopen_on: dt.date | None) -> None:
        """Close the case (its referrals ended first), and plan its reopening if it has one."""
        rng, state, profile = self.rng, stream.state, stream.profile
        self.resolve_referrals(stream, day)
        ineligible = state.intake and state.intake.eligibility_status == "ineligible"
        weights = {
            "goals_met": 36,
            "client_request": 12,
            "lost_contact": 20,
            "moved_away": 10,
            "other": 5,
            "deceased": 0 if reopen_on else 0.5,
            "repatriated": 7 if profile.foreign else 0,
            "ineligible": 30 if ineligible else 2,
        }
        reason = draw_weighted(rng, weights)
        living = draw_weighted(
            rng,
            {
                "goals_met": {
                    "rental": 35,
                    "own_housing": 15,
                    "with_family_friends": 25,
                    "transitional_housing": 25,
                },
                "lost_contact": {"unknown": 70, "unsheltered": 15, "shelter": 15},
                "deceased": {"unknown": 1},
                "repatriated": {"with_family_friends": 60, "unknown": 40},
            }.get(
                reason,
                {
                    "rental": 20,
                    "with_family_friends": 25,
                    "transitional_housing": 15,
                    "shelter": 15,
                    "institution": 5,
                    "unknown": 20,
                },
            ),
        )
        if profile.minor and living in ("rental", "own_housing", "unsheltered"):
            living = rng.choice(("foster_care", "with_family_friends"))
        self.do(
            stream,
            "close_case",
            self.actor(stream),
            cmd.CloseCase(
                closed_on=day,
                reason=reason,
                living_situation=living,
                **obtained_relief(state),
                referred_for_case_management=reason in ("moved_away", "client_request")
                and rng.random() < 0.5,
            ),
        )
        if reopen_on is not None:
            self.at(reopen_on, stream, self.reopen, when_closed=True)

    def reopen(self, stream: PlannedStream, day: dt.date) -> None:
        self.do(
            stream,
            "reopen_case",
            self.actor(stream),
            cmd.ReopenCase(
                reopened_on=day, reason="Synthetic: the client asked for services again."
            ),
        )
        self.start_enrolment(stream, day, first=False)
        if self.rng.random() < 0.4:
            self.at(draw_day(day, 30, 300, self.rng), stream, self.close, None)

    def plan_transfer(
        self, stream: PlannedStream, transfer_on: dt.date, release: Sequence[str] | None
    ) -> None:
        """A release for the transfer shortly before `transfer_on`, then the transfer."""
        rng = self.rng
        recipient = rng.choice([o for o in self.orgs if o.id != stream.organisation.id])
        release = tuple(
            release
            or rng.choice(
                (
                    (
                        "identity",
                        "contact",
                        "demographics",
                        "trafficking",
                        "needs",
                        "services",
                        "outcomes",
                        "immigration",
                    ),
                    ("demographics", "trafficking", "needs", "services"),
                    ("identity", "contact", "needs"),
                )
            )
        )
        grant_on = max(
            stream.state.intake.intake_on, transfer_on - dt.timedelta(days=rng.randint(3, 20))
        )
        self.at(grant_on, stream, self.grant_transfer_consent, recipient.id, release)
        self.at(transfer_on, stream, self.transfer, recipient)

    def grant_transfer_consent(
        self, stream: PlannedStream, day: dt.date, recipient: str, release: tuple[str, ...]
    ) -> None:
        self.grant_consent(
            stream,
            day,
            recipient,
            "case_transfer",
            release,
            self.rng.randint(60, 180),
            revocable=False,
        )

    def transfer(self, stream: PlannedStream, day: dt.date, recipient: Organisation) -> None:
        rng = self.rng
        consent_id = next(
            cid
            for cid, c in sorted(stream.state.consents.items())
            if c.granted.purpose == "case_transfer"
            and c.granted.recipient_organisation == recipient.id
        )
        self.resolve_referrals(stream, day)
        team = recipient.teams[2] if stream.profile.minor else rng.choice(recipient.teams)
        self.do(
            stream,
            "transfer",
            self.actor(stream),
            cmd.TransferCase(
                recipient_organisation=recipient.id,
                consent_id=consent_id,
                transferred_on=day,
                receiving_case_id=str(uuid.UUID(int=rng.getrandbits(128))),
                receiving_worker_id=rng.choice(recipient.workers[team]),
                receiving_team_id=team,
                living_situation=rng.choice(
                    ("rental", "with_family_friends", "transitional_housing", "shelter")
                ),
            ),
        )

    def start_received(self, stream: PlannedStream, day: dt.date) -> None:
        """The receiving organisation picks the case up: what the consent withheld is asked
        again."""
        rng = self.rng
        self.at(
            draw_day(day, 0, 7, rng),
            stream,
            self.record_statistics_consent,
            stream.profile.statistics,
        )
        if stream.state.victim_status is None:
            self.at(draw_day(day, 1, 30, rng), stream, self.determine_received_status)
        if stream.state.trafficking is None and rng.random() < 0.7:
            self.at(draw_day(day, 5, 60, rng), stream, self.update_trafficking)
        needs_on = draw_day(day, 0, 10, rng)
        self.at(needs_on, stream, self.assess_needs, None)
        self.at(draw_day(needs_on, 0, 14, rng), stream, self.set_goals)
        self.at(
            draw_day(day, 1, 10, rng), stream, self.record_service, None, rng.randint(1, 6), None
        )
        self.at(
            draw_day(day, 7, 30, rng),
            stream,
            self.assess_outcome,
            outcome_domains(rng),
            None,
            rng.randint(1, 4),
        )
        if rng.random() < 0.4:
            self.at(draw_day(day, 60, 400, rng), stream, self.close, None)

    def determine_received_status(self, stream: PlannedStream, day: dt.date) -> None:
        status = self.rng.choice(("confirmed", "strong_indicators"))
        self.do(
            stream,
            "determine_victim_status",
            self.actor(stream),
            cmd.DetermineVictimStatus(
                victim_status=VictimStatus(
                    status=status, determined_on=day, determined_by=stream.state.worker_id or ""
                )
            ),
        )
