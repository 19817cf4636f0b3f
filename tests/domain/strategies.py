"""Hypothesis strategies for the case aggregate: a case's life as a list of commands.

`case_lives()` draws an OpenCase and then up to `max_steps` commands of every kind. Each
command is drawn *knowing the state so far* (the strategy runs `decide` itself while it
draws), so ids are often reused, referrals often cite a consent that exists and statuses
often follow a legal edge; but every value also strays at times (codes outside the
codebook, dates before the intake, after a consent's expiry or in the future, empty ids),
so that both accepted and refused commands are well covered. The drawn value is a plain
`Life` (clock + command list) that the tests replay; its repr lists one command a line.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

from hypothesis import strategies as st

from domain.case import commands as cmd
from domain.case.checks import Context
from domain.case.decide import decide
from domain.case.errors import DomainError
from domain.case.lifecycles import IMMIGRATION_MACHINES, REFERRAL_REASON_LIST, REFERRAL_TRANSITIONS
from domain.case.state import CaseState, fold
from domain.case.values import (
    ContactChannel,
    Demographics,
    FamilyServed,
    Identity,
    Intake,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)
from domain.codebook import CURRENT, Codebook

ORG = "org-a"
PARTNERS = ("org-b", "org-c")
ACTOR = "worker-1"
EPOCH = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
BOGUS = "not-a-code"
ALL_STEPS = tuple(sorted(frozenset().union(*(m.states for m in IMMIGRATION_MACHINES.values()))))
ALL_REFERRAL_STATUSES = tuple(sorted(REFERRAL_TRANSITIONS))
FORWARD = {
    "proposed": "sent",
    "sent": "accepted",
    "accepted": "in_progress",
    "in_progress": "completed",
}

Draw = Callable[[st.SearchStrategy], object]


class Life:
    """A clock and the commands of one case, in order (printed one command a line)."""

    def __init__(
        self, now: dt.datetime, commands: Sequence[cmd.Command], codebook: Codebook = CURRENT
    ) -> None:
        self.now = now
        self.commands = tuple(commands)
        self.codebook = codebook

    @property
    def context(self) -> Context:
        return Context(now=self.now, actor_id=ACTOR, codebook=self.codebook)

    def __repr__(self) -> str:
        lines = "".join(f"\n    {command!r}," for command in self.commands)
        return f"Life(now={self.now!r}, codebook={self.codebook.version!r}, commands=[{lines}\n])"

    def _repr_pretty_(self, printer, cycle) -> None:  # how hypothesis prints a falsifying example
        printer.text(repr(self))


def apply(state: CaseState, command: cmd.Command, context: Context) -> CaseState:
    """`decide` then `fold`; a refused command leaves the state as it was."""
    try:
        events = decide(state, command, context)
    except DomainError:
        return state
    return fold(((state.version + i + 1, e) for i, e in enumerate(events)), state)


# -- small helpers (all take `draw`, so they compose inside @st.composite) ---------------


def often(draw: Draw, tenths: int = 8) -> bool:
    """True with probability tenths/10 (shrinks towards True)."""
    return draw(st.integers(0, 9)) < tenths


def code(
    draw: Draw, list_name: str, *, codebook: Codebook = CURRENT, bogus_one_in: int = 20
) -> str:
    """A code of the list; one time in `bogus_one_in` (never if 0), one that is not."""
    if bogus_one_in and draw(st.integers(0, bogus_one_in - 1)) == bogus_one_in - 1:
        return BOGUS
    return draw(st.sampled_from(sorted(codebook.codes(list_name))))


def codes(
    draw: Draw, list_name: str, *, max_size: int = 2, min_size: int = 0, **kw
) -> tuple[str, ...]:
    n = draw(st.integers(min_size, max_size))
    return tuple(code(draw, list_name, **kw) for _ in range(n))


def anchors(state: CaseState, context: Context) -> list[dt.date]:
    """Dates where rules change their answer: today, intake, enrolment, consent windows..."""
    found = [context.now.date(), context.latest_allowed_day]
    if state.intake is not None:
        found.append(state.intake.intake_on)
    if state.enrolled_on is not None:
        found.append(state.enrolled_on)
    if state.closure is not None:
        found.append(state.closure.closed_on)
    for consent in state.consents.values():
        g = consent.granted
        found += [g.signed_on, g.starts_on, g.expires_on]
        if consent.revoked is not None:
            found.append(consent.revoked.revoked_on)
    found += [r.last_changed_on for r in state.referrals.values()]
    found += [r.proposed.proposed_on for r in state.referrals.values()]
    found += [m.on for m in state.milestones.values()]
    found += [g.goal.set_on for g in state.goals.values()]
    return found


def day(
    draw: Draw,
    state: CaseState,
    context: Context,
    *extra: dt.date | None,
    after: dt.date | None = None,
    before: dt.date | None = None,
) -> dt.date:
    """Mostly a plausible day (from `after`, else the current enrolment, up to today); after a
    reopening, sometimes a day of an earlier enrolment; often a day next to an anchor, where
    rules change their answer; sometimes any day around one."""
    mode = draw(st.integers(0, 9))
    today = min(context.now.date(), before or context.now.date())
    if mode == 5 and state.enrolments > 1 and state.intake is not None:
        lo, hi = after or state.intake.intake_on, min(today, state.enrolled_on)
        if lo <= hi:
            return lo + dt.timedelta(days=draw(st.integers(0, (hi - lo).days)))
    if mode < 6:
        lo = (
            after
            or state.enrolled_on
            or (state.intake.intake_on if state.intake else None)
            or today
        )
        lo = min(lo, today)
        return lo + dt.timedelta(days=draw(st.integers(0, (today - lo).days)))
    own = [d for d in (after, before, *extra) if d is not None]
    base = draw(st.sampled_from(own if own and often(draw, 5) else own + anchors(state, context)))
    offset = draw(st.integers(-2, 2) if mode < 9 else st.integers(-120, 120))
    return base + dt.timedelta(days=offset)


def pick_id(
    draw: Draw, prefix: str, pool: int, existing: Sequence[str] = (), reuse: int = 6
) -> str:
    """An id already used on the case (`reuse` times in ten), else one of a small pool, or ''."""
    existing = sorted(existing)
    if existing and often(draw, reuse):
        return draw(st.sampled_from(existing))
    if draw(st.integers(0, 24)) == 24:
        return ""
    return f"{prefix}{draw(st.integers(1, pool))}"


# -- intake ------------------------------------------------------------------------------


def trafficking_context(
    draw: Draw, bogus_one_in: int = 30, consistent: bool = False
) -> TraffickingContext:
    """With `consistent`, a context that is valid whatever the client's age."""
    kind = code(draw, "trafficking_type", bogus_one_in=bogus_one_in)
    sex_act = draw(st.booleans())
    if consistent and sex_act and kind not in ("sex", "both"):
        kind = "both"
    labor = codes(draw, "labor_industry", max_size=1, bogus_one_in=bogus_one_in)
    sex = codes(draw, "sex_exploitation", max_size=1, bogus_one_in=bogus_one_in)
    if consistent and (kind == "labor" and sex or kind == "sex" and labor):
        kind = "both"
    return TraffickingContext(
        trafficking_type=kind,
        commercial_sex_act=sex_act,
        recruitment=codes(draw, "recruitment_method", bogus_one_in=bogus_one_in),
        control_methods=codes(draw, "control_method", bogus_one_in=bogus_one_in),
        labor_industries=labor,
        sex_exploitation=sex,
        vulnerabilities=codes(draw, "vulnerability", bogus_one_in=bogus_one_in),
        narrative=draw(st.sampled_from([None, "Recruited with a job offer"])),
    )


def open_case(draw: Draw, context: Context, stray: bool = True) -> cmd.OpenCase:
    """An intake; with `stray`, some values are out of range, out of order or not codes."""
    today = context.now.date()
    bogus = 40 if stray else 0
    lo = -2 if stray else 0  # how far a stray value may go: future intake, birth after intake...
    intake_on = today - dt.timedelta(
        days=draw(st.one_of(st.integers(0, 500), st.integers(lo or 3, 5)))
    )
    birth: dt.date | None = None
    age: int | None = None
    match draw(st.integers(0, 2)):
        case 1:  # minors and adults, born on any day of the year
            birth = intake_on - dt.timedelta(
                days=draw(st.integers(0, 45)) * 365 + draw(st.integers(lo, 364))
            )
        case 2:
            age = draw(
                st.one_of(
                    st.integers(10, 30),
                    st.integers(0, 120),
                    st.sampled_from([-1, 121] if stray else [17]),
                )
            )
    referral_on = (
        None if often(draw, 5) else intake_on - dt.timedelta(days=draw(st.integers(lo // 2, 30)))
    )
    intake = Intake(
        intake_on=intake_on,
        intake_type=code(draw, "intake_type", bogus_one_in=bogus),
        referral_on=referral_on,
        referral_source=None
        if often(draw, 5)
        else code(draw, "referral_source", bogus_one_in=bogus),
        eligibility_status=code(draw, "eligibility_status", bogus_one_in=bogus),
        age_at_intake=age,
        family_served=FamilyServed(
            children_under_18=draw(st.integers(0, 3)),
            spouse=draw(st.sampled_from([0, 1] * 10 + ([2, -1] if stray else []))),
        ),
    )
    return cmd.OpenCase(
        case_id="case-1",
        organisation_id=ORG,
        intake=intake,
        victim_status=VictimStatus(
            status=code(draw, "victim_status", bogus_one_in=bogus),
            determined_on=intake_on
            + dt.timedelta(days=draw(st.integers(-3, -lo + 1 if stray else 0))),
            determined_by="worker-1",
        ),
        identity=Identity(
            preferred_name=draw(st.sampled_from(["Ana", "A."] * 10 + ([" "] if stray else []))),
            date_of_birth=birth,
        ),
        contact=SafeContact(
            channels=tuple(
                ContactChannel(channel=code(draw, "contact_channel", bogus_one_in=bogus))
                for _ in range(draw(st.integers(0, 1)))
            )
        ),
        demographics=Demographics(
            gender_identity=code(draw, "gender_identity", bogus_one_in=bogus),
            lgbtq=code(draw, "yes_no_unknown", bogus_one_in=bogus),
            race_ethnicity=codes(draw, "race_ethnicity", bogus_one_in=bogus),
            citizenship=None if often(draw, 5) else code(draw, "citizenship", bogus_one_in=bogus),
        ),
        trafficking=trafficking_context(draw, bogus_one_in=bogus, consistent=not stray),
        worker_id="worker-1",
        team_id="team-1",
    )


# -- one generator per command kind -------------------------------------------------------


def g_open(draw, s, ctx):
    return open_case(draw, ctx)


def g_victim_status(draw, s, ctx):
    return cmd.DetermineVictimStatus(
        victim_status=VictimStatus(
            status=code(draw, "victim_status"),
            determined_on=day(draw, s, ctx),
            determined_by=draw(st.sampled_from(["worker-1", "Law enforcement", ""])),
        )
    )


def g_trafficking(draw, s, ctx):
    return cmd.UpdateTraffickingContext(trafficking=trafficking_context(draw))


def g_grant(draw, s, ctx):
    signed_on = day(draw, s, ctx)
    starts_on = signed_on + dt.timedelta(
        days=draw(st.one_of(st.integers(0, 20), st.integers(-2, 2)))
    )
    expires_on = starts_on + dt.timedelta(
        days=draw(st.one_of(st.integers(1, 366), st.integers(-1, 370)))
    )
    return cmd.GrantConsent(
        consent_id=pick_id(draw, "consent-", 4, s.consents, reuse=1),
        recipient_organisation=draw(st.sampled_from([*PARTNERS] * 5 + [ORG, ""])),
        purpose="case_transfer"
        if not often(draw, 7)
        else code(draw, "consent_purpose", bogus_one_in=30),
        data_categories=codes(
            draw,
            "data_category",
            max_size=4,
            min_size=0 if not often(draw, 9) else 1,
            bogus_one_in=40,
        ),
        starts_on=starts_on,
        expires_on=expires_on,
        signed_on=signed_on,
        signed_by=draw(st.sampled_from(["client", "guardian"] * 5 + ["friend"])),
        revocation_explained=often(draw, 9),
        written=often(draw, 9),
    )


def g_revoke(draw, s, ctx):
    in_force = sorted(k for k, c in s.consents.items() if c.revoked is None)
    relied_on = sorted(
        {r.proposed.consent_id for r in s.referrals.values() if r.proposed.consent_id in in_force}
    )
    if relied_on and often(draw, 7):  # the interesting case: referrals rely on it
        consent_id = draw(st.sampled_from(relied_on))
    else:
        consent_id = pick_id(
            draw, "consent-", 3, in_force if in_force and often(draw) else s.consents, reuse=9
        )
    consent = s.consents.get(consent_id)
    extra = [consent.granted.starts_on, consent.granted.expires_on] if consent else []
    extra += [
        d
        for r in s.referrals.values()
        if r.proposed.consent_id == consent_id
        for d in (r.proposed.proposed_on, r.last_changed_on)
    ]
    signed_on = consent.granted.signed_on if consent else None
    return cmd.RevokeConsent(
        consent_id=consent_id,
        revoked_on=day(draw, s, ctx, *extra, after=signed_on),
        method=draw(st.sampled_from(["written", "oral", "written", "email"])),
    )


def g_statistics(draw, s, ctx):
    return cmd.RecordStatisticsConsent(agrees=draw(st.booleans()), recorded_on=day(draw, s, ctx))


def g_needs(draw, s, ctx):
    return cmd.AssessNeeds(
        assessment_id=pick_id(draw, "needs-", 3, [n.assessment_id for n in s.needs]),
        assessed_on=day(draw, s, ctx),
        needs=codes(draw, "service_category", max_size=3),
    )


def g_goal(draw, s, ctx):
    set_on = day(draw, s, ctx)
    target = None if often(draw, 5) else set_on + dt.timedelta(days=draw(st.integers(-3, 200)))
    return cmd.SetGoal(
        goal_id=pick_id(draw, "goal-", 3, s.goals),
        category=code(draw, "service_category"),
        description=draw(st.sampled_from(["Stable housing", "Stable housing", "  "])),
        set_on=set_on,
        target_on=target,
    )


def g_goal_status(draw, s, ctx):
    goal_id = pick_id(draw, "goal-", 3, s.goals, reuse=9)
    goal = s.goals.get(goal_id)
    return cmd.ChangeGoalStatus(
        goal_id=goal_id,
        status=code(draw, "goal_status"),
        changed_on=day(draw, s, ctx, after=goal.goal.set_on if goal else None),
    )


def g_propose(draw, s, ctx):
    referral_id = pick_id(draw, "referral-", 6, s.referrals, reuse=2)
    kind = draw(st.sampled_from(["external", "internal"] * 5 + ["exchange"]))
    consent_id: str | None = None
    released: tuple[str, ...] = ()
    extra: list[dt.date] = []
    after = before = None
    if kind == "external" and s.consents and often(draw, 8):
        in_force = sorted(k for k, c in s.consents.items() if c.revoked is None)
        consent_id = draw(
            st.sampled_from(in_force if in_force and often(draw) else sorted(s.consents))
        )
        consent = s.consents[consent_id]
        g = consent.granted
        recipient = g.recipient_organisation if often(draw, 9) else draw(st.sampled_from(PARTNERS))
        purpose = g.purpose if often(draw, 9) else code(draw, "consent_purpose")
        released = tuple(draw(st.lists(st.sampled_from(g.data_categories), min_size=1, max_size=3)))
        if not often(draw, 9):
            released += (code(draw, "data_category"),)
        extra = [g.starts_on, g.expires_on, g.expires_on + dt.timedelta(days=1)]
        after, before = max(g.starts_on, s.intake.intake_on), g.expires_on
        if consent.revoked is not None:
            extra.append(consent.revoked.revoked_on)
    else:
        recipient = draw(st.sampled_from(["team-2", *PARTNERS, ORG, ""]))
        purpose = code(draw, "consent_purpose")
        if kind != "internal" or not often(draw, 8):
            consent_id = None if often(draw, 5) else pick_id(draw, "consent-", 3, s.consents)
            released = codes(draw, "data_category", max_size=2)
    return cmd.ProposeReferral(
        referral_id=referral_id,
        kind=kind,
        category=code(draw, "service_category"),
        recipient=recipient,
        purpose=purpose,
        proposed_on=day(draw, s, ctx, *extra, after=after, before=before),
        consent_id=consent_id,
        released_categories=released,
        notes=draw(st.sampled_from([None, "Needs a female interpreter"])),
    )


def g_update_referral(draw, s, ctx):
    referral_id = pick_id(draw, "referral-", 6, s.referrals, reuse=9)
    referral = s.referrals.get(referral_id)
    legal = sorted(REFERRAL_TRANSITIONS[referral.status]) if referral else []
    if referral is not None and referral.status in FORWARD and often(draw, 5):
        status = FORWARD[referral.status]  # along the closed loop, so later statuses are reached
    elif legal and often(draw, 6):
        status = draw(st.sampled_from(legal))
    else:
        status = draw(st.sampled_from([*ALL_REFERRAL_STATUSES, BOGUS]))
    reason_list = REFERRAL_REASON_LIST.get(status)
    if reason_list is not None and often(draw, 8):
        reason = code(draw, reason_list)
    elif reason_list is None and often(draw, 8):
        reason = None
    else:
        reason = draw(st.sampled_from([None, "other", "no_capacity", "consent_revoked", BOGUS]))
    after = referral.last_changed_on if referral else None
    return cmd.UpdateReferral(
        referral_id=referral_id,
        status=status,
        changed_on=day(draw, s, ctx, after=after),
        reason=reason,
    )


def g_service(draw, s, ctx):
    return cmd.RecordService(
        service_id=pick_id(draw, "service-", 4, [x.service_id for x in s.services]),
        category=code(draw, "service_category"),
        delivered_on=day(draw, s, ctx),
        units=draw(st.one_of(st.integers(1, 5), st.integers(-1, 1001))),
        minutes=None
        if often(draw, 5)
        else draw(st.one_of(st.integers(1, 120), st.integers(-1, 1441))),
        provider=draw(st.sampled_from(["internal", "org-b", "internal", ""])),
        referral_id=None if often(draw, 6) else pick_id(draw, "referral-", 6, s.referrals),
    )


def g_outcome(draw, s, ctx):
    n = draw(st.integers(0, 3))
    scores = {
        code(draw, "outcome_domain"): draw(st.one_of(st.integers(1, 5), st.integers(-1, 7)))
        for _ in range(n)
    }
    return cmd.AssessOutcome(
        assessment_id=pick_id(draw, "outcome-", 3, [o.assessment_id for o in s.outcomes]),
        assessed_on=day(draw, s, ctx),
        scores=scores,
    )


def g_immigration(draw, s, ctx):
    milestone_id = pick_id(draw, "milestone-", 3, s.milestones)
    current = s.milestones.get(milestone_id)
    kind = (
        current.kind if current is not None and often(draw, 9) else code(draw, "immigration_kind")
    )
    machine = IMMIGRATION_MACHINES.get(kind)
    if machine is not None and often(draw, 8):
        here = current.step if current is not None and current.kind == kind else None
        nxt = machine.start if here is None else machine.transitions.get(here, frozenset())
        step = draw(st.sampled_from(sorted(nxt or machine.states)))
    else:
        step = draw(st.sampled_from([*ALL_STEPS, BOGUS]))
    on = day(draw, s, ctx, after=current.on if current else None)
    if kind == "t_visa_derivative":
        relation = code(draw, "family_relation") if often(draw, 8) else None
    else:
        relation = None if often(draw, 9) else code(draw, "family_relation")
    expires = None
    if (
        kind == "continued_presence" and step in ("granted", "extended") and often(draw, 6)
    ) or not often(draw, 9):
        expires = on + dt.timedelta(days=draw(st.one_of(st.integers(1, 400), st.integers(-2, 2))))
    return cmd.RecordImmigrationStep(
        milestone_id=milestone_id,
        kind=kind,
        step=step,
        on=on,
        family_relation=relation,
        expires_on=expires,
        receipt_number=draw(st.sampled_from([None, "IOE0912345678"])),
    )


def g_assign(draw, s, ctx):
    return cmd.AssignCase(
        worker_id=draw(st.sampled_from(["worker-1", "worker-2", "worker-2", ""])),
        team_id=draw(st.sampled_from(["team-1", "team-2", "team-2", ""])),
        assigned_on=day(draw, s, ctx),
    )


def g_transfer(draw, s, ctx):
    extra: list[dt.date] = []
    if s.consents and often(draw, 8):
        for_transfer = sorted(
            k
            for k, c in s.consents.items()
            if c.granted.purpose == "case_transfer" and c.revoked is None
        )
        consent_id = draw(
            st.sampled_from(for_transfer if for_transfer and often(draw) else sorted(s.consents))
        )
        g = s.consents[consent_id].granted
        recipient = (
            g.recipient_organisation if often(draw, 9) else draw(st.sampled_from([*PARTNERS, ORG]))
        )
        extra = [g.starts_on, g.expires_on, s.enrolled_on]
        after, before = max(g.starts_on, s.intake.intake_on), g.expires_on
    else:
        after = before = None
        consent_id = pick_id(draw, "consent-", 3, s.consents)
        recipient = draw(st.sampled_from([*PARTNERS, ORG]))
    return cmd.TransferCase(
        recipient_organisation=recipient,
        consent_id=consent_id,
        transferred_on=day(draw, s, ctx, *extra, after=after, before=before),
        receiving_case_id="case-2",
        receiving_worker_id="worker-9",
        receiving_team_id="team-9",
        living_situation=code(draw, "living_situation"),
    )


def g_close(draw, s, ctx):
    return cmd.CloseCase(
        closed_on=day(draw, s, ctx),
        reason=code(draw, "closure_reason"),
        living_situation=code(draw, "living_situation"),
        obtained_continued_presence=not often(draw, 9),
        obtained_t_visa=not often(draw, 9),
        obtained_hhs_letter=not often(draw, 9),
        referred_for_case_management=draw(st.booleans()),
    )


def g_reopen(draw, s, ctx):
    return cmd.ReopenCase(
        reopened_on=day(draw, s, ctx, after=s.closure.closed_on if s.closure else None),
        reason=draw(st.sampled_from([None, "Client returned"])),
    )


GENERATORS: dict[str, Callable] = {
    "open": g_open,
    "victim_status": g_victim_status,
    "trafficking": g_trafficking,
    "grant": g_grant,
    "revoke": g_revoke,
    "statistics": g_statistics,
    "needs": g_needs,
    "goal": g_goal,
    "goal_status": g_goal_status,
    "propose": g_propose,
    "update_referral": g_update_referral,
    "service": g_service,
    "outcome": g_outcome,
    "immigration": g_immigration,
    "assign": g_assign,
    "transfer": g_transfer,
    "close": g_close,
    "reopen": g_reopen,
}
# Relative weights: the rules with most state (consents, referrals, milestones, closure) get more.
ALL_KINDS = (
    "open",
    "victim_status",
    "trafficking",
    "grant",
    "grant",
    "grant",
    "grant",
    "revoke",
    "revoke",
    "statistics",
    "needs",
    "goal",
    "goal_status",
    "goal_status",
    "propose",
    "propose",
    "propose",
    "propose",
    "update_referral",
    "update_referral",
    "update_referral",
    "update_referral",
    "update_referral",
    "service",
    "service",
    "outcome",
    "immigration",
    "immigration",
    "immigration",
    "assign",
    "transfer",
    "close",
    "reopen",
    "reopen",
)
CLOSURE_KINDS = (
    "grant",
    "grant",
    "propose",
    "update_referral",
    "update_referral",
    "update_referral",
    "close",
    "close",
    "reopen",
    "reopen",
    "transfer",
    "transfer",
    "revoke",
    "immigration",
)
REFERRAL_KINDS = (
    "grant",
    "grant",
    "revoke",
    "revoke",
    "propose",
    "propose",
    "propose",
    "update_referral",
    "update_referral",
    "update_referral",
    "update_referral",
    "close",
    "reopen",
    "transfer",
    "service",
)


@st.composite
def next_command(
    draw: Draw, state: CaseState, context: Context, kinds: Sequence[str]
) -> cmd.Command:
    """One step, drawn as one unit so that the shrinker can delete it whole."""
    return GENERATORS[draw(st.sampled_from(kinds))](draw, state, context)


@st.composite
def case_lives(
    draw: Draw, max_steps: int = 40, kinds: Sequence[str] = ALL_KINDS, codebook: Codebook = CURRENT
) -> Life:
    """An OpenCase, then up to `max_steps` commands drawn from `kinds` (repeats weigh more).
    `codebook` is the one the lives are decided with; codes are drawn from CURRENT."""
    now = EPOCH + dt.timedelta(
        days=draw(st.integers(0, 365)), minutes=draw(st.integers(0, 24 * 60 - 1))
    )
    context = Context(now=now, actor_id=ACTOR, codebook=codebook)
    commands: list[cmd.Command] = [open_case(draw, context, stray=not often(draw, 9))]
    state = apply(CaseState(), commands[0], context)
    prelude = (
        ["grant"] * draw(st.integers(0, 2)) if "grant" in kinds else []
    )  # releases signed at intake
    # One "go on?" draw per step (about 20 steps on average) rather than a count drawn up
    # front: deleting a step then leaves the rest of the life intact, so failures shrink well.
    while len(commands) <= max_steps and (prelude or draw(st.integers(0, 19)) != 19):
        command = draw(next_command(state, context, [prelude.pop()] if prelude else kinds))
        commands.append(command)
        try:
            state = apply(state, command, context)
        except Exception:  # not a DomainError: stop here, the test replays and reports it
            break
    return Life(now=now, commands=commands, codebook=codebook)
