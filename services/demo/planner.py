"""The demo planner: one intake at a time, drawn, opened and played to `today`.

`Planner.plan_case` draws who the client is and how the case goes (age band, trafficking
type, citizenship, the archetype: open, closed, reopened or transferred, and its dates),
opens the case, plans its first enrolment and its ending, and runs the agenda up to
`today`. The first cases are a fixed showcase, so that even a small demo covers every path;
after them every choice is a weighted draw, and a service category or immigration kind not
delivered yet is steered into the next case that fits it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from domain.case import commands as cmd
from domain.case.values import Demographics, FamilyServed, Identity, Intake, VictimStatus
from domain.codebook import CURRENT
from services.commands.ports import Actor
from services.demo.agenda import CaseProfile, PlannedStream
from services.demo.closure import ClosurePlanner
from services.demo.draws import draw_some, draw_weighted
from services.demo.fiction import (
    WORDS,
    birth_date,
    contact,
    family,
    race,
    service_fits,
    trafficking_context,
)
from services.demo.immigration import immigration_kinds
from services.demo.plan import REFERRAL_STATUSES, Step

HISTORY_DAYS = 730  # intakes spread over the two years before `today`
AGE_BANDS: Mapping[str, tuple[int, int]] = MappingProxyType(
    {
        "0-11": (4, 11),
        "12-17": (12, 17),
        "18-24": (18, 24),
        "25-34": (25, 34),
        "35-49": (35, 49),
        "50+": (50, 68),
    }
)

# The first cases: a fixed showcase so that even a small demo covers every path.
SHOWCASE: tuple[Mapping[str, Any], ...] = (
    {
        "band": "25-34",
        "type": "labor",
        "citizenship": "foreign_national",
        "archetype": "open",
        "min_age_days": 650,
        "referrals": REFERRAL_STATUSES,
        "revocations": False,
        "immigration": (
            "t_visa",
            "t_visa_derivative",
            "law_enforcement_declaration",
            "continued_presence",
            "hhs_certification",
        ),
        "family": FamilyServed(spouse=1, children_under_18=1),
    },
    {
        "band": "12-17",
        "type": "sex",
        "citizenship": "foreign_national",
        "archetype": "closed",
        "min_span": 240,
        "immigration": ("hhs_eligibility", "u_visa"),
        "statistics": False,
    },
    {
        "band": "0-11",
        "type": "both",
        "citizenship": "us_citizen",
        "archetype": "reopened",
        "revoke": "oral",
    },
    {
        "band": "18-24",
        "type": "unknown",
        "status": "strong_indicators",
        "archetype": "transferred",
        "release": ("demographics", "needs", "services", "trafficking"),
    },
    {
        "band": "35-49",
        "type": "labor",
        "status": "strong_indicators",
        "archetype": "closed",
        "revoke": "written",
    },
    {"band": "50+", "type": "sex", "status": "confirmed", "archetype": "open", "statistics": True},
    {
        "band": "25-34",
        "type": "both",
        "citizenship": "lawful_permanent_resident",
        "archetype": "transferred",
        "release": (
            "identity",
            "contact",
            "demographics",
            "trafficking",
            "needs",
            "services",
            "outcomes",
        ),
    },
)


class Planner(ClosurePlanner):
    """Plans whole cases, intake by intake, each played through to `today`."""

    def plan_case(self, index: int) -> tuple[Step, ...]:
        """Every step of intake `index`, and of the case it may be transferred into."""
        rng = self.rng
        show = SHOWCASE[index] if index < len(SHOWCASE) else {}
        case_id = str(uuid.UUID(int=rng.getrandbits(128)))
        org = (
            self.orgs[index % len(self.orgs)]
            if show
            else rng.choices(self.orgs, [len(self.orgs) + 2 - k for k in range(len(self.orgs))])[0]
        )

        band = show.get("band") or draw_weighted(
            rng, {"0-11": 4, "12-17": 16, "18-24": 24, "25-34": 28, "35-49": 19, "50+": 9}
        )
        age = rng.randint(*AGE_BANDS[band])
        minor = age < 18
        kind = show.get("type") or draw_weighted(
            rng,
            {"sex": 55, "labor": 15, "both": 15, "unknown": 15}
            if minor
            else {"sex": 35, "labor": 38, "both": 14, "unknown": 13},
        )
        citizenship = show.get("citizenship") or draw_weighted(
            rng,
            {
                "sex": {"us_citizen": 60, "lawful_permanent_resident": 10, "foreign_national": 30},
                "labor": {
                    "us_citizen": 25,
                    "lawful_permanent_resident": 10,
                    "foreign_national": 65,
                },
                "both": {"us_citizen": 40, "lawful_permanent_resident": 15, "foreign_national": 45},
                "unknown": {
                    "us_citizen": 50,
                    "lawful_permanent_resident": 15,
                    "foreign_national": 35,
                },
            }[kind],
        )
        foreign = citizenship == "foreign_national"
        archetype = show.get("archetype") or draw_weighted(
            rng,
            {
                "open": 46,
                "closed": 38,
                "reopened": 11,
                "transferred": 3 if len(self.orgs) > 1 else 0,
            },
        )
        if archetype == "transferred" and len(self.orgs) < 2:
            archetype = "closed"

        # Dates: the intake, and when the case closes, reopens or moves (all on or before today).
        close_on = reopen_on = transfer_on = None
        if archetype == "open":
            intake_on = self.today - dt.timedelta(
                days=rng.randint(show.get("min_age_days", 0), HISTORY_DAYS)
            )
        elif archetype == "closed":
            ago = rng.randint(max(60, show.get("min_span", 0) + 10), HISTORY_DAYS)
            intake_on = self.today - dt.timedelta(days=ago)
            close_on = intake_on + dt.timedelta(
                days=rng.randint(max(45, show.get("min_span", 0)), min(540, ago))
            )
        elif archetype == "reopened":
            ago = rng.randint(160, HISTORY_DAYS)
            intake_on = self.today - dt.timedelta(days=ago)
            span = rng.randint(45, min(400, ago - 60))
            close_on = intake_on + dt.timedelta(days=span)
            reopen_on = close_on + dt.timedelta(days=rng.randint(14, min(240, ago - span)))
        else:
            ago = rng.randint(60, HISTORY_DAYS)
            intake_on = self.today - dt.timedelta(days=ago)
            transfer_on = intake_on + dt.timedelta(days=rng.randint(30, min(300, ago)))

        interpreter_language = foreign and rng.random() < 0.75
        served = show.get("family") or family(rng, age)
        forced_service = next(
            (
                c
                for c in self.uncovered_services
                if service_fits(c, foreign, interpreter_language, served.children_under_18 > 0)
            ),
            None,
        )
        immigration = tuple(show.get("immigration", ()))
        if foreign and not show:
            immigration = immigration_kinds(rng, minor, served)
            missing = next(
                (
                    k
                    for k in self.uncovered_kinds
                    if k not in immigration
                    and k != ("hhs_certification" if minor else "hhs_eligibility")
                ),
                None,
            )
            if missing is not None:
                immigration = (*immigration, missing)
        referrals = tuple(
            show.get("referrals")
            or (
                draw_weighted(
                    rng,
                    {
                        "completed": 30,
                        "in_progress": 10,
                        "accepted": 8,
                        "declined": 12,
                        "revoked": 8,
                        "expired": 10,
                        "sent": 8,
                        "proposed": 6,
                    },
                )
                for _ in range(rng.choices((0, 1, 2, 3, 4), (15, 30, 30, 15, 10))[0])
            )
        )
        profile = CaseProfile(
            minor=minor,
            foreign=foreign,
            interpreter=interpreter_language,
            children=served.children_under_18 > 0,
            trafficking_type=kind,
            forced_service=forced_service,
            immigration=immigration,
            referrals=referrals,
            alternate_kinds="referrals" in show,
            revocations=show.get("revocations", True),
            extra_revoke=show.get("revoke"),
            statistics=show.get("statistics", rng.random() < 0.75),
        )

        stream = PlannedStream(org, case_id, index, profile)
        self.streams[(org.id, case_id)] = stream
        first = len(self.steps)
        self.open_case(stream, intake_on, age, citizenship, interpreter_language, served, show)
        self.start_enrolment(stream, intake_on, first=True)
        if close_on is not None:
            self.at(close_on, stream, self.close, reopen_on)
        if transfer_on is not None:
            self.plan_transfer(stream, transfer_on, show.get("release"))
        self.run_agenda()
        return tuple(self.steps[first:])

    def open_case(
        self,
        stream: PlannedStream,
        intake_on: dt.date,
        age: int,
        citizenship: str,
        interpreter: bool,
        served: FamilyServed,
        show: Mapping[str, Any],
    ) -> None:
        """The intake: the client's identity, contact, demographics and first facts."""
        rng, n = self.rng, stream.index + 1
        org = stream.organisation
        youth_team, adult_teams = org.teams[2], (org.teams[0], org.teams[1], org.teams[3])
        team = youth_team if age < 18 and rng.random() < 0.85 else rng.choice(adult_teams)
        worker = rng.choice(org.workers[team])
        word = WORDS[stream.index % len(WORDS)]

        intake_type = draw_weighted(
            rng,
            {"referral": 35, "hotline": 15, "law_enforcement": 20, "walk_in": 12, "outreach": 18},
        )
        referral_source: str | None = {
            "referral": rng.choice(
                (
                    "ngo",
                    "health_care",
                    "faith_based",
                    "family_friend",
                    "other",
                    *(("school", "child_welfare") if age < 18 else ()),
                )
            ),
            "hotline": "hotline",
            "law_enforcement": "law_enforcement",
            "walk_in": rng.choice(("self", "family_friend")),
            "outreach": None,
        }[intake_type]
        referral_on = (
            intake_on - dt.timedelta(days=rng.choice((0, 0, 1, 2, 3, 5, 9)))
            if intake_type in ("referral", "hotline", "law_enforcement")
            else None
        )
        birth = birth_date(rng, intake_on, age) if rng.random() < 0.75 else None
        intake = Intake(
            intake_on=intake_on,
            intake_type=intake_type,
            referral_on=referral_on,
            referral_source=referral_source,
            matched_within_48h=None if referral_on is None else (intake_on - referral_on).days <= 2,
            eligibility_status=draw_weighted(rng, {"eligible": 82, "pending": 14, "ineligible": 4}),
            age_at_intake=None if birth is not None else age,
            family_served=served,
        )
        identity = Identity(
            preferred_name=f"Client {word} {n:04d}",
            legal_name=f"DEMO {word.upper()} {n:04d}" if rng.random() < 0.5 else None,
            aliases=(f"{word}-{n}",) if rng.random() < 0.3 else (),
            date_of_birth=birth,
        )
        demographics = Demographics(
            gender_identity=draw_weighted(
                rng,
                {
                    "woman": 52,
                    "man": 30,
                    "transgender_woman": 4,
                    "transgender_man": 2,
                    "non_binary": 3,
                    "another": 1,
                    "not_reported": 8,
                },
            ),
            lgbtq=draw_weighted(rng, {"yes": 12, "no": 63, "unknown": 25}),
            race_ethnicity=race(rng),
            disabilities=draw_some(rng, CURRENT.lists["disability"], 0, 2)
            if rng.random() < 0.25
            else (),
            citizenship=citizenship,
            preferred_language=rng.choice(
                ("es", "zh", "vi", "tl", "ht", "fr", "ru", "ko", "th", "pt", "uk", "sw")
            )
            if interpreter
            else rng.choice(("en", "en", "en", "es")),
            interpreter_needed=interpreter,
        )
        status = show.get("status") or draw_weighted(
            rng, {"confirmed": 60, "strong_indicators": 40}
        )
        command = cmd.OpenCase(
            case_id=stream.case_id,
            organisation_id=org.id,
            intake=intake,
            victim_status=VictimStatus(
                status=status, determined_on=intake_on, determined_by=worker
            ),
            identity=identity,
            contact=contact(rng, n, word),
            demographics=demographics,
            trafficking=trafficking_context(
                rng, stream.profile.trafficking_type, minor=age < 18, foreign=stream.profile.foreign
            ),
            worker_id=worker,
            team_id=team,
        )
        self.do(stream, "open_case", Actor(worker, org.id, f"demo-{stream.index}"), command)
