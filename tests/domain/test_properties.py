"""Property-based tests of the pure case domain (no database).

1. Whatever sequence of commands `decide` accepts folds to a state `invariants.problems`
   accepts; refusals are `DomainError`s and nothing else; the incremental fold equals the
   fold from scratch; every accepted event survives a JSON round trip.
2. Referral and immigration-milestone histories only move along their machines' edges.
3. Consent checks use the injected clock and the consent window, nothing else.
4. A code added by a later codebook is accepted with that codebook, refused with CURRENT,
   and folds either way.
"""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.checks import DATE_SKEW, Context
from domain.case.decide import decide
from domain.case.invariants import problems
from domain.case.lifecycles import IMMIGRATION_MACHINES, REFERRAL_TRANSITIONS
from domain.case.state import CaseState, fold
from domain.case.values import (
    Demographics,
    Identity,
    Intake,
    SafeContact,
    TraffickingContext,
    VictimStatus,
)
from domain.codebook import CURRENT
from domain.event import DomainEvent
from tests.domain.strategies import ACTOR, CLOSURE_KINDS, ORG, REFERRAL_KINDS, Life, case_lives
from tests.tiers import scaled

pytestmark = pytest.mark.fuzz

LIFE_SETTINGS = settings(
    max_examples=scaled(default=60, full=300),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
EXTENDED = CURRENT.extended("2026.2", {"service_category": {"peer_support": "Peer support"}})


def lifecycle_problems(state: CaseState) -> list[str]:
    """Property 2, checked directly against the machines (independently of `invariants`), and
    the timeline: milestone histories never go back in time, an enrolment never predates intake."""
    found = []
    for referral_id, referral in state.referrals.items():
        statuses = [status for status, _ in referral.history]
        if not statuses or statuses[0] != "proposed":
            found.append(f"referral {referral_id} starts at {statuses[:1]}")
        for before, after in zip(statuses, statuses[1:], strict=False):
            if after not in REFERRAL_TRANSITIONS[before]:
                found.append(f"referral {referral_id}: illegal {before} -> {after}")
        if "completed" in statuses and "accepted" not in statuses[: statuses.index("completed")]:
            found.append(f"referral {referral_id} completed before being accepted")
        if referral.status != statuses[-1]:
            found.append(
                f"referral {referral_id} status {referral.status} is not its last history entry"
            )
    for milestone_id, milestone in state.milestones.items():
        machine = IMMIGRATION_MACHINES[milestone.kind]
        steps = [step for step, _ in milestone.history]
        if not steps or steps[0] not in machine.start:
            found.append(f"milestone {milestone_id} ({milestone.kind}) starts at {steps[:1]}")
        for before, after in zip(steps, steps[1:], strict=False):
            if after not in machine.transitions.get(before, frozenset()):
                found.append(
                    f"milestone {milestone_id} ({milestone.kind}): illegal {before} -> {after}"
                )
        if milestone.step != steps[-1]:
            found.append(
                f"milestone {milestone_id} step {milestone.step} is not its last history entry"
            )
        days = [day for _, day in milestone.history]
        if days != sorted(days):
            found.append(f"milestone {milestone_id} history goes back in time")
    if (
        state.intake is not None
        and state.enrolled_on is not None
        and state.enrolled_on < state.intake.intake_on
    ):
        found.append("the current enrolment starts before the intake")
    return found


def replay(life: Life) -> tuple[CaseState, list[DomainEvent]]:
    """Apply every command, checking the properties after each step."""
    context = life.context
    state = CaseState()
    history: list[DomainEvent] = []
    for n, command in enumerate(life.commands):
        before = state
        try:
            events = decide(state, command, context)
        except err.DomainError:
            assert state is before  # a refusal changes nothing
            continue
        # Anything but a DomainError escapes here and fails the test: that is a bug.
        assert events, f"step {n}: {command!r} was accepted but produced no event"
        assert all(isinstance(e, DomainEvent) for e in events)
        state = fold(((state.version + i + 1, e) for i, e in enumerate(events)), state)
        history.extend(events)
        assert problems(state) == [], f"step {n}: after {command!r}"
        assert lifecycle_problems(state) == [], f"step {n}: after {command!r}"
        if isinstance(command, cmd.ReopenCase):
            assert state.enrolled_on >= before.closure.closed_on, (
                f"step {n}: reopened before it closed"
            )
    return state, history


def check_life(life: Life) -> None:
    state, history = replay(life)
    assert fold(enumerate(history, 1)) == state
    assert state.version == len(history)
    for event in history:
        assert msgspec.json.decode(msgspec.json.encode(event), type=ev.CaseEvent) == event


# -- 1 + 2: any accepted sequence folds to a valid state --------------------------------


@LIFE_SETTINGS
@given(life=case_lives())
def test_any_accepted_sequence_folds_to_a_valid_state(life: Life) -> None:
    check_life(life)


@LIFE_SETTINGS
@given(life=case_lives(kinds=REFERRAL_KINDS))
def test_referrals_and_consents_only_move_along_legal_edges(life: Life) -> None:
    check_life(life)


@LIFE_SETTINGS
@given(life=case_lives(kinds=CLOSURE_KINDS))
def test_closures_reopenings_and_transfers_keep_the_case_valid(life: Life) -> None:
    check_life(life)


@pytest.mark.parametrize("days_before_proposal", [0, 10])
def test_a_revocation_recorded_after_a_referral_leaves_a_valid_state(
    days_before_proposal: int,
) -> None:
    """A revocation recorded after a release but dated on or before it (the client revoked
    orally first) ends the referral and leaves a valid state."""
    context = Context(now=NOW, actor_id=ACTOR)
    state = run(
        opened(context),
        cmd.GrantConsent(
            consent_id="consent-1",
            recipient_organisation="org-b",
            purpose="service_referral",
            data_categories=("needs",),
            starts_on=dt.date(2025, 2, 1),
            expires_on=dt.date(2025, 12, 1),
            signed_on=dt.date(2025, 2, 1),
            revocation_explained=True,
            written=True,
        ),
        context,
    )
    state = run(
        state,
        cmd.ProposeReferral(
            referral_id="referral-1",
            kind="external",
            category="medical",
            recipient="org-b",
            purpose="service_referral",
            proposed_on=dt.date(2025, 3, 1),
            consent_id="consent-1",
            released_categories=("needs",),
        ),
        context,
    )
    revoke = cmd.RevokeConsent(
        consent_id="consent-1",
        method="oral",
        revoked_on=dt.date(2025, 3, 1) - dt.timedelta(days=days_before_proposal),
    )
    state = run(state, revoke, context)
    assert state.referrals["referral-1"].status == "revoked"
    assert problems(state) == []


# -- 3: consent checks respect the injected clock ---------------------------------------

INTAKE_ON = dt.date(2025, 1, 6)
TODAY = INTAKE_ON + dt.timedelta(days=1000)
NOW = dt.datetime.combine(TODAY, dt.time(12, 0), tzinfo=dt.UTC)
OPEN = cmd.OpenCase(
    case_id="case-1",
    organisation_id=ORG,
    intake=Intake(intake_on=INTAKE_ON, intake_type="walk_in", age_at_intake=30),
    victim_status=VictimStatus(
        status="confirmed", determined_on=INTAKE_ON, determined_by="worker-1"
    ),
    identity=Identity(preferred_name="Ana"),
    contact=SafeContact(),
    demographics=Demographics(),
    trafficking=TraffickingContext(trafficking_type="labor"),
    worker_id="worker-1",
    team_id="team-1",
)


def run(state: CaseState, command: cmd.Command, context: Context) -> CaseState:
    events = decide(state, command, context)
    return fold(((state.version + i + 1, e) for i, e in enumerate(events)), state)


def opened(context: Context | None = None) -> CaseState:
    return run(CaseState(), OPEN, context or Context(now=NOW, actor_id=ACTOR))


@st.composite
def consent_scenarios(draw):
    signed_on = INTAKE_ON + dt.timedelta(days=draw(st.integers(0, 600)))
    starts_on = signed_on + dt.timedelta(days=draw(st.integers(0, 30)))
    expires_on = starts_on + dt.timedelta(days=draw(st.integers(1, 366)))
    revoked_on = None
    if draw(st.booleans()):
        revoked_on = signed_on + dt.timedelta(days=draw(st.integers(0, 400)))
    categories = tuple(
        draw(
            st.lists(
                st.sampled_from(sorted(CURRENT.codes("data_category"))),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
    )
    released = tuple(
        draw(
            st.lists(st.sampled_from(categories), min_size=1, max_size=len(categories), unique=True)
        )
    )
    anchors = [d for d in (starts_on, expires_on, revoked_on) if d is not None]
    near = draw(st.sampled_from(anchors)) + dt.timedelta(days=draw(st.integers(-2, 2)))
    anywhere = INTAKE_ON + dt.timedelta(days=draw(st.integers(0, 1000)))
    on = min(max(draw(st.sampled_from([near, anywhere])), INTAKE_ON), TODAY)
    return signed_on, starts_on, expires_on, revoked_on, categories, released, on


@settings(max_examples=scaled(default=60, full=300), deadline=None)
@given(
    scenario=consent_scenarios(),
    purpose=st.sampled_from(sorted(CURRENT.codes("consent_purpose"))),
    skew_minutes=st.integers(0, 60 * 24 * 40),
)
def test_external_referral_is_accepted_iff_the_consent_is_in_force(
    scenario, purpose, skew_minutes
) -> None:
    signed_on, starts_on, expires_on, revoked_on, categories, released, on = scenario
    context = Context(now=NOW, actor_id=ACTOR)
    state = run(
        opened(context),
        cmd.GrantConsent(
            consent_id="consent-1",
            recipient_organisation="org-b",
            purpose=purpose,
            data_categories=categories,
            starts_on=starts_on,
            expires_on=expires_on,
            signed_on=signed_on,
            revocation_explained=True,
            written=True,
        ),
        context,
    )
    if revoked_on is not None:
        revoke = cmd.RevokeConsent(consent_id="consent-1", revoked_on=revoked_on, method="oral")
        state = run(state, revoke, context)
    propose = cmd.ProposeReferral(
        referral_id="referral-1",
        kind="external",
        category="housing_shelter",
        recipient="org-b",
        purpose=purpose,
        proposed_on=on,
        consent_id="consent-1",
        released_categories=released,
    )

    revoked = revoked_on is not None and revoked_on <= on
    in_force = starts_on <= on <= expires_on and not revoked
    assert state.consents["consent-1"].active_on(on) == in_force
    # A release is judged when it is recorded: once a revocation is known, whatever its date,
    # nothing more goes out under the consent.
    if revoked_on is not None:
        with pytest.raises(err.ConsentRevokedError):
            decide(state, propose, context)
    elif in_force:
        after = run(state, propose, context)
        assert after.referrals["referral-1"].status == "proposed"
        assert problems(after) == []
    else:
        with pytest.raises(err.ConsentExpired):
            decide(state, propose, context)

    # The same command, decided at a moment when `on` is still in the future everywhere in
    # US jurisdictions, is refused for that reason, whatever the consent says.
    earlier = dt.datetime.combine(on, dt.time(0, 0), tzinfo=dt.UTC) - DATE_SKEW
    future_context = Context(now=earlier - dt.timedelta(minutes=skew_minutes), actor_id=ACTOR)
    if skew_minutes == 0:  # the boundary: `on` is today in Guam, so not in the future
        assert future_context.latest_allowed_day == on
        try:
            decide(state, propose, future_context)
        except err.DomainError as error:
            assert not isinstance(error, err.DateInFuture)
    else:
        assert future_context.latest_allowed_day < on
        with pytest.raises(err.DateInFuture):
            decide(state, propose, future_context)


# -- 1 + 2, aimed: rules that random lives reach only rarely -----------------------------


def all_problems(state: CaseState) -> list[str]:
    return problems(state) + lifecycle_problems(state)


@st.composite
def referral_paths(draw):
    """A referral under one consent: proposed some days after the consent starts, then moved
    along legal edges, each a few days after the last."""
    offset = draw(st.integers(0, 200))
    path: list[tuple[str, int]] = []
    status = "proposed"
    for _ in range(draw(st.integers(0, 4))):
        if not REFERRAL_TRANSITIONS[status]:
            break
        status = draw(st.sampled_from(sorted(REFERRAL_TRANSITIONS[status])))
        offset += draw(st.integers(0, 40))
        path.append((status, offset))
    return draw(st.integers(0, 200)), path


@settings(max_examples=scaled(default=40, full=200), deadline=None)
@given(
    paths=st.lists(referral_paths(), min_size=1, max_size=4),
    revoked_after=st.integers(0, 450),
    unrelated=st.booleans(),
)
def test_revoking_a_consent_ends_every_open_referral_relying_on_it(
    paths, revoked_after, unrelated
) -> None:
    context = Context(now=NOW, actor_id=ACTOR)
    signed_on = INTAKE_ON + dt.timedelta(days=30)
    state = opened(context)
    for consent_id in ("consent-1", "consent-2"):
        state = run(
            state,
            cmd.GrantConsent(
                consent_id=consent_id,
                recipient_organisation="org-b",
                purpose="service_referral",
                data_categories=("needs",),
                starts_on=signed_on,
                expires_on=signed_on + dt.timedelta(days=366),
                signed_on=signed_on,
                revocation_explained=True,
                written=True,
            ),
            context,
        )
    reasons = {"declined": "no_capacity", "revoked": "client_request"}
    for n, (proposed_after, path) in enumerate(paths):
        consent_id = "consent-2" if unrelated and n == 0 else "consent-1"
        state = run(
            state,
            cmd.ProposeReferral(
                referral_id=f"referral-{n}",
                kind="external",
                category="medical",
                recipient="org-b",
                purpose="service_referral",
                proposed_on=signed_on + dt.timedelta(days=proposed_after),
                consent_id=consent_id,
                released_categories=("needs",),
            ),
            context,
        )
        for status, after in path:
            try:
                state = run(
                    state,
                    cmd.UpdateReferral(
                        referral_id=f"referral-{n}",
                        status=status,
                        reason=reasons.get(status),
                        changed_on=signed_on + dt.timedelta(days=proposed_after + after),
                    ),
                    context,
                )
            except (
                err.ConsentExpired,
                err.ConsentRevokedError,
            ):  # "sent" after the consent expired
                break
    assert all_problems(state) == []
    before = state
    try:
        revoked_on = signed_on + dt.timedelta(days=revoked_after)
        events = decide(
            state,
            cmd.RevokeConsent(consent_id="consent-1", revoked_on=revoked_on, method="written"),
            context,
        )
    except err.DateOutOfOrder:
        return  # a future rule may refuse a revocation dated before a release made under it
    state = fold(((state.version + i + 1, e) for i, e in enumerate(events)), state)
    assert all_problems(state) == []
    assert state.consents["consent-1"].revoked is not None
    for referral_id, old in before.referrals.items():
        new = state.referrals[referral_id]
        if old.proposed.consent_id == "consent-1" and old.is_open:
            assert new.status == "revoked"
            assert new.last_changed_on >= old.last_changed_on
        else:
            assert new == old


@st.composite
def enrolment_histories(draw):
    """Close / reopen cycles (each date on or after the last), then a day to close or transfer."""
    days: list[int] = []
    last = 0
    for _ in range(draw(st.integers(0, 3))):
        closed = last + draw(st.integers(0, 40))
        last = closed + draw(st.integers(0, 40))
        days.append((closed, last))
    final = draw(
        st.one_of(st.integers(last - 3, last + 3), st.integers(-5, 361))
    )  # the consent's window
    return days, final


@settings(max_examples=scaled(default=40, full=200), deadline=None)
@given(history=enrolment_histories(), transfer=st.booleans())
def test_a_case_never_closes_before_its_current_enrolment(history, transfer) -> None:
    context = Context(now=NOW, actor_id=ACTOR)
    state = run(
        opened(context),
        cmd.GrantConsent(
            consent_id="consent-1",
            recipient_organisation="org-b",
            purpose="case_transfer",
            data_categories=("identity", "needs"),
            starts_on=INTAKE_ON - dt.timedelta(days=5),
            expires_on=INTAKE_ON + dt.timedelta(days=361),
            signed_on=INTAKE_ON - dt.timedelta(days=5),
            revocation_explained=True,
            written=True,
        ),
        context,
    )
    on = lambda days: INTAKE_ON + dt.timedelta(days=days)  # noqa: E731
    for closed, reopened in history[0]:
        state = run(
            state,
            cmd.CloseCase(closed_on=on(closed), reason="lost_contact", living_situation="unknown"),
            context,
        )
        state = run(state, cmd.ReopenCase(reopened_on=on(reopened)), context)
    day = on(history[1])
    command = (
        cmd.TransferCase(
            recipient_organisation="org-b",
            consent_id="consent-1",
            transferred_on=day,
            receiving_case_id="case-2",
            receiving_worker_id="worker-9",
            receiving_team_id="team-9",
        )
        if transfer
        else cmd.CloseCase(closed_on=day, reason="goals_met", living_situation="rental")
    )
    if day < state.enrolled_on:
        with pytest.raises(err.DateOutOfOrder):
            decide(state, command, context)
    else:
        state = run(state, command, context)
        assert state.closure.closed_on == day
        assert problems(state) == []


# -- 4: codebook extensibility ----------------------------------------------------------


def with_category(kind: str, category: str, on: dt.date) -> cmd.Command:
    return {
        "service": lambda: cmd.RecordService(
            service_id=f"service-{category}", category=category, delivered_on=on
        ),
        "needs": lambda: cmd.AssessNeeds(
            assessment_id=f"needs-{category}", assessed_on=on, needs=("medical", category)
        ),
        "goal": lambda: cmd.SetGoal(
            goal_id=f"goal-{category}", category=category, description="Peer group", set_on=on
        ),
        "referral": lambda: cmd.ProposeReferral(
            referral_id=f"referral-{category}",
            kind="internal",
            category=category,
            recipient="team-2",
            purpose="care_coordination",
            proposed_on=on,
        ),
    }[kind]()


@settings(max_examples=scaled(default=30, full=100), deadline=None)
@given(kind=st.sampled_from(["service", "needs", "goal", "referral"]), days=st.integers(0, 1000))
def test_a_code_added_by_a_later_codebook(kind: str, days: int) -> None:
    assert "peer_support" in EXTENDED.codes("service_category")
    assert "peer_support" not in CURRENT.codes(
        "service_category"
    )  # extending copies, never mutates
    assert CURRENT.codes("service_category") < EXTENDED.codes("service_category")
    on = INTAKE_ON + dt.timedelta(days=days)
    current = Context(now=NOW, actor_id=ACTOR)
    extended = Context(now=NOW, actor_id=ACTOR, codebook=EXTENDED)
    state = opened(current)
    command = with_category(kind, "peer_support", on)

    with pytest.raises(err.InvalidCode):
        decide(state, command, current)
    events = decide(state, command, extended)
    assert any("peer_support" in msgspec.json.encode(e).decode() for e in events)

    # The events fold, whichever codebook is current afterwards: history is never re-validated.
    after = fold(((state.version + i + 1, e) for i, e in enumerate(events)), state)
    assert problems(after) == []
    for context in (current, extended):
        more = decide(after, with_category(kind, "medical", on), context)
        later = fold(((after.version + i + 1, e) for i, e in enumerate(more)), after)
        assert problems(later) == []
        history = [*decide(CaseState(), OPEN, context), *events, *more]
        assert fold(enumerate(history, 1)) == later
    # ... and a code CURRENT knows is still accepted by the later codebook.
    assert decide(state, with_category(kind, "medical", on), extended)
