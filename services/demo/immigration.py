"""Immigration relief in the demo: which kinds a foreign national's case pursues, and the
steps each milestone goes through (requests, filings, decisions, expiries).
"""

from __future__ import annotations

import datetime as dt
import random

from domain.case import commands as cmd
from domain.case.values import FamilyServed
from services.demo.agenda import AgendaPlanner, PlannedStream
from services.demo.draws import draw_weighted

ImmigrationPath = tuple[tuple[str, int, int | None], ...]


def immigration_kinds(rng: random.Random, minor: bool, family: FamilyServed) -> tuple[str, ...]:
    """The kinds of relief a foreign national's case pursues."""
    kinds = []
    if minor:
        if rng.random() < 0.8:
            kinds.append("hhs_eligibility")
        if rng.random() < 0.15:
            kinds.append("continued_presence")
    else:
        if rng.random() < 0.4:
            kinds.append("law_enforcement_declaration")
        if rng.random() < 0.35:
            kinds.append("continued_presence")
        if rng.random() < 0.5:
            kinds.append("hhs_certification")
    if rng.random() < (0.4 if minor else 0.6):
        kinds.append("t_visa")
        if (family.spouse or family.children_under_18) and rng.random() < 0.6:
            kinds.append("t_visa_derivative")
    elif rng.random() < 0.2:
        kinds.append("u_visa")
    return tuple(kinds)


def immigration_path(rng: random.Random, kind: str) -> ImmigrationPath:
    """(step, days after the previous step, days of validity for Continued Presence)."""

    def r(low: int, high: int) -> int:
        return rng.randint(low, high)

    if kind == "continued_presence":
        path: list[tuple[str, int, int | None]] = [("requested", 0, None)]
        if rng.random() < 0.2:
            path += [("denied", r(30, 90), None), ("requested", r(60, 120), None)]
        period = rng.choice((365, 730))  # one year before 2021, two since
        path.append(("granted", r(30, 120), period))
        if period == 365:
            path.append(
                ("extended", r(300, 350), 365) if rng.random() < 0.7 else ("expired", period, None)
            )
        return tuple(path)
    if kind == "t_visa":
        path = (
            [("preparing", 0, None), ("filed", r(30, 120), None)]
            if rng.random() < 0.7
            else [("filed", 0, None)]
        )
        if rng.random() < 0.05:
            return (*path, ("withdrawn", r(30, 200), None))
        if rng.random() < 0.4:
            path += [
                ("evidence_requested", r(90, 240), None),
                ("evidence_submitted", r(20, 80), None),
            ]
        path.append(("approved" if rng.random() < 0.85 else "denied", r(120, 420), None))
        return tuple(path)
    if kind == "t_visa_derivative":
        decision = draw_weighted(rng, {"approved": 80, "denied": 12, "withdrawn": 8})
        return (("filed", 0, None), (decision, r(180, 500), None))
    if kind == "law_enforcement_declaration":
        if rng.random() < 0.25:
            return (
                ("requested", 0, None),
                ("declined", r(30, 90), None),
                ("requested", r(30, 120), None),
                ("signed", r(20, 90), None),
            )
        return (("requested", 0, None), ("signed", r(20, 120), None))
    if kind == "u_visa":
        if rng.random() < 0.2:
            return (
                ("certification_requested", 0, None),
                ("certification_declined", r(30, 150), None),
            )
        return (
            ("certification_requested", 0, None),
            ("certified", r(30, 150), None),
            ("filed", r(20, 90), None),
            ("waitlisted", r(180, 400), None),
            ("approved", r(200, 500), None),
        )
    if kind == "hhs_certification":
        return (
            ("requested", 0, None),
            ("issued" if rng.random() < 0.88 else "denied", r(14, 90), None),
        )
    if kind == "hhs_eligibility":
        if rng.random() < 0.7:
            return (
                ("requested", 0, None),
                ("interim_issued", r(1, 7), None),
                ("issued", r(30, 90), None),
            )
        return (
            ("requested", 0, None),
            ("issued" if rng.random() < 0.9 else "denied", r(20, 90), None),
        )
    raise ValueError(f"no demo path for {kind!r}")


class ImmigrationPlanner(AgendaPlanner):
    """Plans each immigration milestone of a case, step by step."""

    def record_immigration_step(
        self,
        stream: PlannedStream,
        day: dt.date,
        kind: str,
        milestone: str | None,
        k: int,
        path: ImmigrationPath = (),
    ) -> None:
        """Step `k` of a milestone (the first opens it and draws its path), then the next."""
        rng = self.rng
        if milestone is None:
            if kind in ("hhs_certification", "hhs_eligibility"):
                age = stream.state.age_on(day)
                if age is not None:
                    kind = "hhs_certification" if age >= 18 else "hhs_eligibility"
            milestone = stream.next_id("milestone")
            path = immigration_path(rng, kind)
        step, _, valid_days = path[k]
        relation = None
        if kind == "t_visa_derivative" and k == 0:
            family = stream.state.intake.family_served if stream.state.intake else FamilyServed()
            relation = (
                "spouse"
                if family.spouse
                else "child"
                if family.children_under_18
                else rng.choice(("parent", "sibling"))
            )
        receipt = (
            f"DEMO-{kind[:2].upper()}-{stream.index + 1:04d}-{k}"
            if step in ("filed", "adjustment_filed")
            else None
        )
        self.do(
            stream,
            "record_immigration_step",
            self.actor(stream),
            cmd.RecordImmigrationStep(
                milestone_id=milestone,
                kind=kind,
                step=step,
                on=day,
                family_relation=relation,
                receipt_number=receipt,
                expires_on=day + dt.timedelta(days=valid_days) if valid_days else None,
            ),
        )
        if k + 1 < len(path):
            self.at(
                day + dt.timedelta(days=path[k + 1][1]),
                stream,
                self.record_immigration_step,
                kind,
                milestone,
                k + 1,
                path,
            )
