"""The care a demo case worker records: needs, goals, services, outcomes, and the case's
facts as they become known (statistics consent, victim status, trafficking context, the
assigned worker).

Each action runs on its day, on the state of that day, and may plan its own follow-up (a
goal's next status, the next service, the next outcome assessment).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import msgspec

from domain.case import commands as cmd
from domain.case.values import VictimStatus
from domain.codebook import CURRENT
from services.demo.agenda import AgendaPlanner, PlannedStream
from services.demo.draws import draw_day, draw_weighted
from services.demo.fiction import trafficking_context


class CarePlanner(AgendaPlanner):
    """Plans the case worker's day-to-day records of a case."""

    def record_statistics_consent(self, stream: PlannedStream, day: dt.date, agrees: bool) -> None:
        self.do(
            stream,
            "record_consent",
            self.actor(stream),
            cmd.RecordStatisticsConsent(agrees=agrees, recorded_on=day),
        )

    def assess_needs(self, stream: PlannedStream, day: dt.date, forced: str | None) -> None:
        rng, profile = self.rng, stream.profile
        pool = [
            "case_management",
            "crisis_intervention",
            "basic_necessities",
            "housing_shelter",
            "medical",
            "mental_health",
            "transportation",
            "financial_assistance",
            "legal_criminal_civil",
            "life_skills",
            "dental",
            "substance_use",
            "employment" if not profile.minor else "education",
        ]
        if profile.foreign:
            pool += [
                "legal_immigration",
                "legal_immigration",
                "repatriation",
                "family_reunification",
            ]
        if profile.interpreter:
            pool.append("interpretation_translation")
        if profile.children:
            pool.append("childcare")
        if profile.minor:
            pool += ["education", "family_reunification"]
        needs = set(rng.sample(pool, rng.randint(2, 5)))
        if forced:
            needs.add(forced)
        notes = "Synthetic needs note." if rng.random() < 0.3 else None
        self.do(
            stream,
            "assess_needs",
            self.actor(stream),
            cmd.AssessNeeds(
                assessment_id=stream.next_id("needs"),
                assessed_on=day,
                needs=tuple(sorted(needs)),
                notes=notes,
            ),
        )

    def set_goals(self, stream: PlannedStream, day: dt.date) -> None:
        rng = self.rng
        for category in rng.sample(
            list(stream.current_needs()), min(3, rng.randint(1, 3), len(stream.current_needs()))
        ):
            goal_id = stream.next_id("goal")
            label = CURRENT.label("service_category", category).lower()
            self.do(
                stream,
                "plan_goal",
                self.actor(stream),
                cmd.SetGoal(
                    goal_id=goal_id,
                    category=category,
                    description=f"Synthetic goal about {label}.",
                    set_on=day,
                    target_on=draw_day(day, 60, 240, rng),
                ),
            )
            self.at(
                draw_day(day, 7, 40, rng), stream, self.change_goal_status, goal_id, "in_progress"
            )

    def change_goal_status(
        self, stream: PlannedStream, day: dt.date, goal_id: str, status: str
    ) -> None:
        goal = stream.state.goals[goal_id]
        if goal.status in ("achieved", "discontinued") or goal.status == status:
            return
        self.do(
            stream,
            "plan_goal",
            self.actor(stream),
            cmd.ChangeGoalStatus(goal_id=goal_id, status=status, changed_on=day),
        )
        if status == "in_progress":
            end = draw_weighted(self.rng, {"achieved": 55, "discontinued": 15, "": 30})
            if end:
                self.at(
                    draw_day(day, 30, 200, self.rng), stream, self.change_goal_status, goal_id, end
                )

    def record_service(
        self,
        stream: PlannedStream,
        day: dt.date,
        referral_id: str | None,
        remaining: int,
        category: str | None,
    ) -> None:
        """One service (under a referral, of a given category, or of a current need), and
        the next of `remaining`."""
        rng = self.rng
        provider = "internal"
        if referral_id is not None:
            referral = stream.state.referrals[referral_id]
            if referral.status not in ("accepted", "in_progress", "completed"):
                return
            category = referral.proposed.category
            if referral.proposed.kind == "external":
                provider = referral.proposed.recipient
        elif category is None:
            category = (
                rng.choice(("case_management", "crisis_intervention", "basic_necessities"))
                if not stream.state.services
                else rng.choice(stream.current_needs())
            )
        self.do(
            stream,
            "record_service",
            self.actor(stream),
            cmd.RecordService(
                service_id=stream.next_id("service"),
                category=category,
                delivered_on=day,
                units=rng.choice((1, 1, 1, 2, 3, 5)),
                minutes=rng.choice((None, 15, 30, 45, 60, 90, 120, 240)),
                provider=provider,
                referral_id=referral_id,
                notes="Synthetic service note." if rng.random() < 0.2 else None,
            ),
        )
        if remaining > 1:
            self.at(
                draw_day(day, 5, 45, rng),
                stream,
                self.record_service,
                referral_id,
                remaining - 1,
                None,
            )

    def assess_outcome(
        self,
        stream: PlannedStream,
        day: dt.date,
        domains: tuple[str, ...],
        previous: Mapping[str, int] | None,
        remaining: int,
    ) -> None:
        rng = self.rng
        if previous is None:
            scores = {d: rng.randint(1, 3) for d in domains}
        else:  # mostly better over time, sometimes a setback
            scores = {
                d: min(5, max(1, s + rng.choice((-1, 0, 0, 1, 1, 1)))) for d, s in previous.items()
            }
        self.do(
            stream,
            "assess_outcome",
            self.actor(stream),
            cmd.AssessOutcome(
                assessment_id=stream.next_id("outcome"), assessed_on=day, scores=scores
            ),
        )
        if remaining > 1:
            self.at(
                draw_day(day, 60, 120, rng),
                stream,
                self.assess_outcome,
                domains,
                scores,
                remaining - 1,
            )

    def confirm_status(self, stream: PlannedStream, day: dt.date) -> None:
        by = self.rng.choice((stream.state.worker_id or "", "law-enforcement-liaison", "hhs-otip"))
        self.do(
            stream,
            "determine_victim_status",
            self.actor(stream),
            cmd.DetermineVictimStatus(
                victim_status=VictimStatus(status="confirmed", determined_on=day, determined_by=by)
            ),
        )

    def update_trafficking(self, stream: PlannedStream, day: dt.date) -> None:
        rng, current = self.rng, stream.state.trafficking
        kind = current.trafficking_type if current else stream.profile.trafficking_type
        if kind == "unknown":
            kind = draw_weighted(rng, {"sex": 40, "labor": 45, "both": 15})
        updated = trafficking_context(
            rng, kind, minor=stream.profile.minor, foreign=stream.profile.foreign
        )
        if current is not None:
            updated = msgspec.structs.replace(
                updated,
                recruitment_location=current.recruitment_location,
                exploitation_location=current.exploitation_location,
                control_methods=tuple(
                    sorted(set(current.control_methods) | set(updated.control_methods))
                ),
            )
        self.do(
            stream,
            "update_trafficking_context",
            self.actor(stream),
            cmd.UpdateTraffickingContext(trafficking=updated),
        )

    def reassign(self, stream: PlannedStream, day: dt.date) -> None:
        org, state = stream.organisation, stream.state
        team = state.team_id if self.rng.random() < 0.6 else self.rng.choice(org.teams)
        workers = [w for w in org.workers[team] if w != state.worker_id]
        self.do(
            stream,
            "assign",
            self.supervisor(stream),
            cmd.AssignCase(worker_id=self.rng.choice(workers), team_id=team, assigned_on=day),
        )
