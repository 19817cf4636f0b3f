"""Immigration and certification milestones: RecordImmigrationStep, walked from the tables."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case import errors as err
from domain.case import events as ev
from domain.case.decide import decide
from domain.case.invariants import problems
from domain.case.lifecycles import IMMIGRATION_MACHINES, Machine
from domain.codebook import CURRENT
from tests.domain.builders import (
    a_minor,
    an_adult,
    an_intake,
    context,
    day,
    given,
    milestone_path,
    opened_event,
    opened_minor,
    record_step,
    step_recorded,
    then,
    when,
)

ADULT_CASE = opened_event()
MINOR_CASE = opened_minor()
FIRST_STEP_ON = day(2, 1)


def case_for(kind: str) -> ev.CaseOpened:
    """Eligibility letters are for minors; everything else is walked on an adult's case."""
    return MINOR_CASE if kind == "hhs_eligibility" else ADULT_CASE


def relation_for(kind: str, index: int) -> dict:
    """A derivative names its family relation on its first step; later steps inherit it."""
    return {"family_relation": "child"} if kind == "t_visa_derivative" and index == 0 else {}


def edge_simple_walks(machine: Machine) -> list[list[str]]:
    """Every walk from a start that uses no transition twice and cannot be extended: together
    with their prefixes, every legal step sequence that does not repeat a transition."""
    walks: list[list[str]] = []

    def extend(path: list[str], used: frozenset) -> None:
        nexts = [
            n for n in sorted(machine.transitions.get(path[-1], ())) if (path[-1], n) not in used
        ]
        if not nexts:
            walks.append(path)
        for n in nexts:
            extend([*path, n], used | {(path[-1], n)})

    for start in sorted(machine.start):
        extend([start], frozenset())
    return walks


WALKS = [
    (kind, walk)
    for kind, machine in IMMIGRATION_MACHINES.items()
    for walk in edge_simple_walks(machine)
]


def test_every_immigration_kind_in_the_codebook_has_a_machine_and_vice_versa() -> None:
    assert set(IMMIGRATION_MACHINES) == CURRENT.codes("immigration_kind")


def test_the_walks_use_every_transition_of_every_machine() -> None:
    for kind, machine in IMMIGRATION_MACHINES.items():
        used = {
            (a, b) for k, walk in WALKS if k == kind for a, b in zip(walk, walk[1:], strict=False)
        }
        table = {(a, b) for a, nexts in machine.transitions.items() for b in nexts}
        starts = {walk[0] for k, walk in WALKS if k == kind}
        assert used == table, kind
        assert starts == set(machine.start), kind


@pytest.mark.parametrize(("kind", "walk"), WALKS, ids=[f"{k}:{'>'.join(w)}" for k, w in WALKS])
def test_every_legal_step_sequence_is_accepted(kind: str, walk: list[str]) -> None:
    state = given(case_for(kind))
    for i, step in enumerate(walk):
        on = FIRST_STEP_ON + dt.timedelta(days=i)
        command = record_step(
            "ms-1", kind, step, on, receipt_number=f"TEST-{i:04d}", **relation_for(kind, i)
        )
        events = decide(state, command, context())
        assert events == [
            step_recorded(
                "ms-1", kind, step, on, receipt_number=f"TEST-{i:04d}", **relation_for(kind, i)
            )
        ], (kind, walk[: i + 1])
        state = then(state, events)
    milestone = state.milestones["ms-1"]
    assert (milestone.kind, milestone.step, [s for s, _ in milestone.history]) == (
        kind,
        walk[-1],
        walk,
    )
    assert problems(state) == []


def reachable(machine: Machine) -> list[str | None]:
    return [None, *sorted(s for s in machine.states if s in _reached(machine))]


def _reached(machine: Machine) -> set[str]:
    seen = set(machine.start)
    frontier = list(seen)
    while frontier:
        for nxt in machine.transitions.get(frontier.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    return seen


def test_every_state_of_every_machine_is_reachable_from_a_start() -> None:
    for kind, machine in IMMIGRATION_MACHINES.items():
        assert _reached(machine) == set(machine.states), kind


ILLEGAL = [
    (kind, current, step)
    for kind, machine in IMMIGRATION_MACHINES.items()
    for current in reachable(machine)
    for step in [*sorted(machine.states), "not_a_step"]
    if not machine.allows(current, step)
]


def history_to(kind: str, current: str | None) -> list[ev.ImmigrationStepRecorded]:
    if current is None:
        return []
    return [
        step_recorded(
            "ms-1", kind, step, FIRST_STEP_ON + dt.timedelta(days=i), **relation_for(kind, i)
        )
        for i, step in enumerate(milestone_path(kind, current))
    ]


@pytest.mark.parametrize(
    ("kind", "current", "step"), ILLEGAL, ids=[f"{k}:{c or 'start'}>{s}" for k, c, s in ILLEGAL]
)
def test_every_illegal_step_is_refused(kind: str, current: str | None, step: str) -> None:
    story = [case_for(kind), *history_to(kind, current)]
    command = record_step(
        "ms-1",
        kind,
        step,
        day(6, 1),
        **({"family_relation": "child"} if kind == "t_visa_derivative" else {}),
    )
    with pytest.raises(err.IllegalImmigrationTransition):
        when(story, command)


def test_an_unknown_immigration_kind_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when([ADULT_CASE], record_step("ms-1", "golden_visa", "filed", day(2, 1)))


def test_a_milestone_without_an_id_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([ADULT_CASE], record_step("", "t_visa", "filed", day(2, 1)))


def test_a_milestone_keeps_its_kind() -> None:
    story = [ADULT_CASE, step_recorded("ms-1", "t_visa", "filed", day(2, 1))]
    with pytest.raises(err.InvalidValue):
        when(story, record_step("ms-1", "u_visa", "filed", day(2, 2)))


def test_two_milestones_of_different_kinds_live_side_by_side() -> None:
    story = [ADULT_CASE, step_recorded("ms-1", "t_visa", "filed", day(2, 1))]
    assert when(story, record_step("ms-2", "u_visa", "filed", day(2, 2))) == [
        step_recorded("ms-2", "u_visa", "filed", day(2, 2))
    ]


# -- T visa derivatives and family relations ------------------------------------------------------


def test_a_derivative_without_a_family_relation_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when([ADULT_CASE], record_step("ms-1", "t_visa_derivative", "filed", day(2, 1)))


def test_a_derivative_with_an_unknown_family_relation_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when(
            [ADULT_CASE],
            record_step("ms-1", "t_visa_derivative", "filed", day(2, 1), family_relation="cousin"),
        )


@pytest.mark.parametrize("relation", sorted(CURRENT.codes("family_relation")))
def test_a_derivative_with_a_family_relation_is_accepted(relation: str) -> None:
    assert when(
        [ADULT_CASE],
        record_step("ms-1", "t_visa_derivative", "filed", day(2, 1), family_relation=relation),
    ) == [step_recorded("ms-1", "t_visa_derivative", "filed", day(2, 1), family_relation=relation)]


def test_a_later_derivative_step_inherits_the_family_relation() -> None:
    story = [
        ADULT_CASE,
        step_recorded("ms-1", "t_visa_derivative", "filed", day(2, 1), family_relation="spouse"),
    ]
    state = given(*story)
    events = decide(
        state, record_step("ms-1", "t_visa_derivative", "approved", day(5, 1)), context()
    )
    assert events == [step_recorded("ms-1", "t_visa_derivative", "approved", day(5, 1))]
    assert then(state, events).milestones["ms-1"].family_relation == "spouse"


@pytest.mark.parametrize(
    "kind", sorted(k for k in IMMIGRATION_MACHINES if k != "t_visa_derivative")
)
def test_a_family_relation_on_a_non_derivative_is_refused(kind: str) -> None:
    first = sorted(IMMIGRATION_MACHINES[kind].start)[0]
    with pytest.raises(err.InvalidValue):
        when([case_for(kind)], record_step("ms-1", kind, first, day(2, 1), family_relation="child"))


# -- HHS letters: certification for adults, eligibility for minors ---------------------------------


def test_an_hhs_certification_letter_for_a_minor_is_refused() -> None:
    with pytest.raises(err.CertificationAgeMismatch):
        when([MINOR_CASE], record_step("ms-1", "hhs_certification", "requested", day(2, 1)))


def test_an_hhs_eligibility_letter_for_an_adult_is_refused() -> None:
    with pytest.raises(err.CertificationAgeMismatch):
        when([ADULT_CASE], record_step("ms-1", "hhs_eligibility", "requested", day(2, 1)))


def test_control_an_hhs_certification_letter_for_an_adult_is_accepted() -> None:
    assert when([ADULT_CASE], record_step("ms-1", "hhs_certification", "requested", day(2, 1))) == [
        step_recorded("ms-1", "hhs_certification", "requested", day(2, 1))
    ]


def test_control_an_hhs_eligibility_letter_for_a_minor_is_accepted() -> None:
    assert when([MINOR_CASE], record_step("ms-1", "hhs_eligibility", "requested", day(2, 1))) == [
        step_recorded("ms-1", "hhs_eligibility", "requested", day(2, 1))
    ]


def test_the_age_rule_also_uses_the_age_at_intake_when_no_date_of_birth_is_known() -> None:
    minor = opened_minor(identity=a_minor(date_of_birth=None), intake=an_intake(age_at_intake=12))
    with pytest.raises(err.CertificationAgeMismatch):
        when([minor], record_step("ms-1", "hhs_certification", "requested", day(2, 1)))


def test_the_age_rule_uses_the_age_on_the_request_date() -> None:
    # 17 at intake (January 2026), 18 on 10 March 2026: the adult letter from that day on.
    turning = opened_minor(identity=a_minor(date_of_birth=dt.date(2008, 3, 10)))
    with pytest.raises(err.CertificationAgeMismatch):
        when([turning], record_step("ms-1", "hhs_certification", "requested", day(3, 9)))
    assert when([turning], record_step("ms-1", "hhs_certification", "requested", day(3, 10))) == [
        step_recorded("ms-1", "hhs_certification", "requested", day(3, 10))
    ]


def test_an_eligibility_letter_requested_for_a_minor_may_be_issued_after_they_turn_18() -> None:
    turning = opened_minor(identity=a_minor(date_of_birth=dt.date(2008, 3, 10)))
    story = [turning, step_recorded("ms-1", "hhs_eligibility", "requested", day(2, 1))]
    assert when(story, record_step("ms-1", "hhs_eligibility", "issued", day(4, 1))) == [
        step_recorded("ms-1", "hhs_eligibility", "issued", day(4, 1))
    ]


def test_with_no_known_age_either_letter_may_be_requested() -> None:
    unknown_age = opened_event(
        identity=an_adult(date_of_birth=None), intake=an_intake(age_at_intake=None)
    )
    for kind in ("hhs_certification", "hhs_eligibility"):
        assert when([unknown_age], record_step("ms-1", kind, "requested", day(2, 1))) == [
            step_recorded("ms-1", kind, "requested", day(2, 1))
        ]


# -- Continued Presence expiry ---------------------------------------------------------------------

CP_REQUESTED = step_recorded("cp-1", "continued_presence", "requested", day(2, 1))
CP_GRANTED = step_recorded(
    "cp-1", "continued_presence", "granted", day(3, 1), expires_on=day(3, 1, 2028)
)


def test_a_continued_presence_grant_with_an_expiry_is_accepted() -> None:
    command = record_step(
        "cp-1", "continued_presence", "granted", day(3, 1), expires_on=day(3, 1, 2028)
    )
    assert when([ADULT_CASE, CP_REQUESTED], command) == [CP_GRANTED]


def test_a_continued_presence_extension_with_an_expiry_is_accepted() -> None:
    command = record_step(
        "cp-1", "continued_presence", "extended", day(9, 1), expires_on=day(9, 1, 2029)
    )
    events = when([ADULT_CASE, CP_REQUESTED, CP_GRANTED], command)
    assert events == [
        step_recorded(
            "cp-1", "continued_presence", "extended", day(9, 1), expires_on=day(9, 1, 2029)
        )
    ]
    assert then(given(ADULT_CASE, CP_REQUESTED, CP_GRANTED), events).milestones[
        "cp-1"
    ].expires_on == day(9, 1, 2029)


def test_an_expiry_on_a_continued_presence_request_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when(
            [ADULT_CASE],
            record_step(
                "cp-1", "continued_presence", "requested", day(2, 1), expires_on=day(2, 1, 2028)
            ),
        )


def test_an_expiry_on_a_denial_of_continued_presence_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when(
            [ADULT_CASE, CP_REQUESTED],
            record_step(
                "cp-1", "continued_presence", "denied", day(3, 1), expires_on=day(3, 1, 2028)
            ),
        )


def test_an_expiry_on_another_kind_is_refused() -> None:
    story = [ADULT_CASE, step_recorded("ms-1", "t_visa", "filed", day(2, 1))]
    with pytest.raises(err.InvalidValue):
        when(
            story, record_step("ms-1", "t_visa", "approved", day(3, 1), expires_on=day(3, 1, 2030))
        )


@pytest.mark.parametrize("expires_on", [day(3, 1), day(2, 28)], ids=["same_day", "day_before"])
def test_a_continued_presence_expiring_on_or_before_its_grant_is_refused(
    expires_on: dt.date,
) -> None:
    with pytest.raises(err.DateOutOfOrder):
        when(
            [ADULT_CASE, CP_REQUESTED],
            record_step("cp-1", "continued_presence", "granted", day(3, 1), expires_on=expires_on),
        )


def test_a_continued_presence_expiring_the_day_after_its_grant_is_accepted() -> None:
    command = record_step("cp-1", "continued_presence", "granted", day(3, 1), expires_on=day(3, 2))
    assert when([ADULT_CASE, CP_REQUESTED], command) == [
        step_recorded("cp-1", "continued_presence", "granted", day(3, 1), expires_on=day(3, 2))
    ]


# -- dates --------------------------------------------------------------------------------------


def test_a_step_dated_before_the_previous_step_is_refused() -> None:
    story = [ADULT_CASE, step_recorded("ms-1", "t_visa", "filed", day(3, 10))]
    with pytest.raises(err.DateOutOfOrder):
        when(story, record_step("ms-1", "t_visa", "approved", day(3, 9)))


def test_a_step_on_the_same_day_as_the_previous_step_is_accepted() -> None:
    story = [ADULT_CASE, step_recorded("ms-1", "t_visa", "filed", day(3, 10))]
    assert when(story, record_step("ms-1", "t_visa", "approved", day(3, 10))) == [
        step_recorded("ms-1", "t_visa", "approved", day(3, 10))
    ]


def test_a_step_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when([ADULT_CASE], record_step("ms-1", "t_visa", "filed", day(9, 17)))


def test_a_first_step_may_predate_the_intake() -> None:
    # Law enforcement may have requested Continued Presence before the client came to us.
    assert when(
        [ADULT_CASE], record_step("cp-1", "continued_presence", "requested", day(12, 1, 2025))
    ) == [step_recorded("cp-1", "continued_presence", "requested", day(12, 1, 2025))]
