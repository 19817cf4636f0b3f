"""Intake: OpenCase, DetermineVictimStatus, UpdateTraffickingContext, and the DVHT rule."""

from __future__ import annotations

import datetime as dt

import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
from domain.case.checks import DATE_SKEW
from domain.case.decide import decide
from domain.case.state import CaseState
from domain.case.values import ContactChannel, FamilyServed
from tests.domain.builders import (
    CASE_ID,
    FIXED_NOW,
    INTAKE_ON,
    LATEST_ALLOWED_DAY,
    ORG,
    TEAM,
    WORKER,
    a_minor,
    a_safe_contact,
    a_victim_status,
    an_adult,
    an_intake,
    context,
    day,
    demographics,
    labor_trafficking,
    one_of_each_command,
    open_case_command,
    opened_event,
    opened_minor,
    sex_trafficking,
    when,
)

NO_CASE = CaseState()


def open_case(command: cmd.OpenCase, now: dt.datetime = FIXED_NOW) -> list[ev.DomainEvent]:
    return decide(NO_CASE, command, context(now))


# -- OpenCase: the happy path ---------------------------------------------------------------


def test_open_case_records_exactly_the_intake_as_case_opened() -> None:
    events = open_case(open_case_command())

    assert events == [
        ev.CaseOpened(
            case_id=CASE_ID,
            organisation_id=ORG,
            intake=an_intake(),
            victim_status=a_victim_status(),
            identity=an_adult(),
            contact=a_safe_contact(),
            demographics=demographics(),
            trafficking=labor_trafficking(),
            worker_id=WORKER,
            team_id=TEAM,
            transferred_in=False,
        )
    ]


def test_open_case_on_an_existing_case_is_refused() -> None:
    with pytest.raises(err.CaseAlreadyOpen):
        when([opened_event()], open_case_command())


@pytest.mark.parametrize(
    "command",
    [c for t, c in one_of_each_command().items() if t is not cmd.OpenCase],
    ids=lambda c: type(c).__name__,
)
def test_any_other_command_on_a_case_that_does_not_exist_is_refused(command: cmd.Command) -> None:
    with pytest.raises(err.CaseNotFound):
        decide(NO_CASE, command, context())


def test_the_command_catalogue_used_by_these_tests_covers_every_command() -> None:
    assert set(one_of_each_command()) == set(cmd.Command.__subclasses__())


# -- OpenCase: codes ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        open_case_command(intake=an_intake(intake_type="carrier_pigeon")),
        open_case_command(intake=an_intake(eligibility_status="maybe")),
        open_case_command(intake=an_intake(referral_source="newspaper")),
        open_case_command(demographics=demographics(gender_identity="unlisted")),
        open_case_command(demographics=demographics(lgbtq="true")),
        open_case_command(demographics=demographics(race_ethnicity=("white", "martian"))),
        open_case_command(demographics=demographics(disabilities=("telepathy",))),
        open_case_command(demographics=demographics(citizenship="dual")),
        open_case_command(
            contact=a_safe_contact(channels=(ContactChannel(channel="carrier_pigeon"),))
        ),
        open_case_command(victim_status=a_victim_status(status="suspected")),
        open_case_command(trafficking=labor_trafficking(trafficking_type="organ")),
        open_case_command(trafficking=labor_trafficking(recruitment=("lottery",))),
        open_case_command(trafficking=labor_trafficking(control_methods=("magic",))),
        open_case_command(trafficking=labor_trafficking(labor_industries=("space_mining",))),
        open_case_command(trafficking=sex_trafficking(sex_exploitation=("unknown_kind",))),
        open_case_command(trafficking=labor_trafficking(vulnerabilities=("bad_luck",))),
    ],
    ids=[
        "intake_type",
        "eligibility_status",
        "referral_source",
        "gender_identity",
        "lgbtq",
        "race_ethnicity",
        "disability",
        "citizenship",
        "contact_channel",
        "victim_status",
        "trafficking_type",
        "recruitment",
        "control_method",
        "labor_industry",
        "sex_exploitation",
        "vulnerability",
    ],
)
def test_open_case_with_an_unknown_code_is_refused(command: cmd.OpenCase) -> None:
    with pytest.raises(err.InvalidCode):
        open_case(command)


def test_open_case_without_optional_codes_is_accepted() -> None:
    command = open_case_command(
        intake=an_intake(referral_source=None, referral_on=None),
        demographics=demographics(citizenship=None, race_ethnicity=(), disabilities=()),
    )
    assert open_case(command) == [
        opened_event(intake=command.intake, demographics=command.demographics)
    ]


# -- OpenCase: dates in the future, and the 14h05m skew ------------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        open_case_command(intake=an_intake(intake_on=day(9, 17))),
        open_case_command(intake=an_intake(intake_on=day(9, 16), referral_on=day(9, 17))),
        open_case_command(identity=an_adult(date_of_birth=day(9, 17))),
        open_case_command(victim_status=a_victim_status(determined_on=day(9, 17))),
    ],
    ids=["intake_on", "referral_on", "date_of_birth", "victim_status_determined_on"],
)
def test_open_case_with_a_date_after_the_latest_allowed_day_is_refused(
    command: cmd.OpenCase,
) -> None:
    with pytest.raises(err.DateInFuture):
        open_case(command)


def test_the_latest_allowed_day_is_tomorrow_in_utc_under_the_fixed_clock() -> None:
    assert (FIXED_NOW + DATE_SKEW).date() == LATEST_ALLOWED_DAY == day(9, 16)


def test_an_intake_dated_on_the_latest_allowed_day_is_accepted() -> None:
    command = open_case_command(intake=an_intake(intake_on=LATEST_ALLOWED_DAY))
    assert open_case(command) == [opened_event(intake=command.intake)]


def test_a_date_just_within_the_skew_is_accepted() -> None:
    # 09:55 UTC + 14h05m = 00:00 the next day: tomorrow has just begun somewhere in the US.
    now = dt.datetime(2026, 9, 15, 9, 55, tzinfo=dt.UTC)
    command = open_case_command(intake=an_intake(intake_on=day(9, 16)))
    assert open_case(command, now=now) == [opened_event(intake=command.intake)]


def test_a_date_just_beyond_the_skew_is_refused() -> None:
    # One second earlier, 09:54:59 + 14h05m = 23:59:59: tomorrow has not begun anywhere yet.
    now = dt.datetime(2026, 9, 15, 9, 54, 59, tzinfo=dt.UTC)
    command = open_case_command(intake=an_intake(intake_on=day(9, 16)))
    with pytest.raises(err.DateInFuture):
        open_case(command, now=now)


# -- OpenCase: dates out of order --------------------------------------------------------------


def test_a_referral_date_after_the_intake_date_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        open_case(open_case_command(intake=an_intake(referral_on=INTAKE_ON + dt.timedelta(days=1))))


def test_a_referral_on_the_intake_date_is_accepted() -> None:
    command = open_case_command(intake=an_intake(referral_on=INTAKE_ON))
    assert open_case(command) == [opened_event(intake=command.intake)]


def test_a_date_of_birth_after_the_intake_date_is_refused() -> None:
    with pytest.raises(err.DateOutOfOrder):
        open_case(
            open_case_command(identity=an_adult(date_of_birth=INTAKE_ON + dt.timedelta(days=1)))
        )


# -- OpenCase: values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "member", ["parents", "siblings", "spouse", "children_under_18", "children_18_plus"]
)
def test_a_negative_family_count_is_refused(member: str) -> None:
    with pytest.raises(err.InvalidValue):
        open_case(open_case_command(intake=an_intake(family_served=FamilyServed(**{member: -1}))))


def test_more_than_one_spouse_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        open_case(open_case_command(intake=an_intake(family_served=FamilyServed(spouse=2))))


def test_one_spouse_and_several_family_members_are_accepted() -> None:
    family = FamilyServed(parents=2, siblings=3, spouse=1, children_under_18=2, children_18_plus=1)
    command = open_case_command(intake=an_intake(family_served=family))
    assert open_case(command) == [opened_event(intake=command.intake)]


@pytest.mark.parametrize("name", ["", "   "], ids=["empty", "blank"])
def test_an_empty_preferred_name_is_refused(name: str) -> None:
    with pytest.raises(err.InvalidValue):
        open_case(open_case_command(identity=an_adult(preferred_name=name)))


@pytest.mark.parametrize("age", [-1, 121])
def test_an_age_at_intake_out_of_range_is_refused(age: int) -> None:
    with pytest.raises(err.InvalidValue):
        open_case(
            open_case_command(
                identity=an_adult(date_of_birth=None), intake=an_intake(age_at_intake=age)
            )
        )


@pytest.mark.parametrize("age", [0, 120])
def test_an_age_at_intake_at_the_ends_of_the_range_is_accepted(age: int) -> None:
    command = open_case_command(
        identity=an_adult(date_of_birth=None),
        intake=an_intake(age_at_intake=age),
        trafficking=labor_trafficking(),
    )
    assert open_case(command) == [opened_event(identity=command.identity, intake=command.intake)]


def test_an_empty_victim_status_determiner_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        open_case(open_case_command(victim_status=a_victim_status(determined_by="")))


@pytest.mark.parametrize("field", ["case_id", "organisation_id", "worker_id", "team_id"])
def test_a_case_without_an_id_organisation_worker_or_team_is_refused(field: str) -> None:
    with pytest.raises(err.InvalidValue):
        open_case(open_case_command(**{field: ""}))


# -- trafficking type against its details --------------------------------------------------------


def test_a_labor_case_with_sex_exploitation_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        open_case(open_case_command(trafficking=labor_trafficking(sex_exploitation=("stripping",))))


def test_a_sex_case_with_labor_industries_is_refused() -> None:
    command = open_case_command(
        identity=an_adult(), trafficking=sex_trafficking(labor_industries=("hospitality",))
    )
    with pytest.raises(err.InvalidValue):
        open_case(command)


def test_a_both_case_with_labor_industries_and_sex_exploitation_is_accepted() -> None:
    trafficking = labor_trafficking(
        trafficking_type="both",
        sex_exploitation=("illicit_massage",),
        labor_industries=("health_beauty",),
    )
    command = open_case_command(trafficking=trafficking)
    assert open_case(command) == [opened_event(trafficking=trafficking)]


# -- DVHT: a minor in commercial sex is a victim of sex trafficking --------------------------------

MINOR_BY_DOB = {"identity": a_minor()}
MINOR_BY_AGE = {"identity": a_minor(date_of_birth=None), "intake": an_intake(age_at_intake=16)}


@pytest.mark.parametrize(
    "minor", [MINOR_BY_DOB, MINOR_BY_AGE], ids=["by_date_of_birth", "by_age_at_intake"]
)
@pytest.mark.parametrize("trafficking_type", ["labor", "unknown"])
def test_a_minor_in_commercial_sex_recorded_as_other_than_sex_trafficking_is_refused(
    minor: dict, trafficking_type: str
) -> None:
    trafficking = labor_trafficking(
        trafficking_type=trafficking_type,
        commercial_sex_act=True,
        labor_industries=("restaurant",) if trafficking_type == "labor" else (),
    )
    with pytest.raises(err.MinorSexTraffickingMisclassified):
        open_case(open_case_command(trafficking=trafficking, **minor))


@pytest.mark.parametrize(
    "minor", [MINOR_BY_DOB, MINOR_BY_AGE], ids=["by_date_of_birth", "by_age_at_intake"]
)
@pytest.mark.parametrize("trafficking_type", ["sex", "both"])
def test_a_minor_in_commercial_sex_recorded_as_sex_trafficking_is_accepted(
    minor: dict, trafficking_type: str
) -> None:
    trafficking = sex_trafficking(trafficking_type=trafficking_type)
    command = open_case_command(trafficking=trafficking, **minor)
    assert open_case(command) == [opened_event(trafficking=trafficking, **minor)]


def test_control_an_adult_in_labor_trafficking_without_a_commercial_sex_act_is_accepted() -> None:
    trafficking = labor_trafficking(commercial_sex_act=False)
    command = open_case_command(identity=an_adult(), trafficking=trafficking)
    assert open_case(command) == [opened_event(identity=an_adult(), trafficking=trafficking)]


def test_an_adult_in_commercial_sex_recorded_as_labor_is_not_a_dvht_error() -> None:
    # The DVHT presumption is for minors only; an adult's case needs force, fraud or coercion.
    trafficking = labor_trafficking(commercial_sex_act=True)
    assert open_case(open_case_command(trafficking=trafficking)) == [
        opened_event(trafficking=trafficking)
    ]


def test_a_person_turning_18_on_the_intake_date_is_an_adult() -> None:
    identity = an_adult(date_of_birth=dt.date(2008, 1, 5))  # 18 on INTAKE_ON
    trafficking = labor_trafficking(commercial_sex_act=True)
    command = open_case_command(identity=identity, trafficking=trafficking)
    assert open_case(command) == [opened_event(identity=identity, trafficking=trafficking)]


def test_a_person_turning_18_the_day_after_intake_is_a_minor() -> None:
    identity = an_adult(date_of_birth=dt.date(2008, 1, 6))
    with pytest.raises(err.MinorSexTraffickingMisclassified):
        open_case(
            open_case_command(
                identity=identity, trafficking=labor_trafficking(commercial_sex_act=True)
            )
        )


def test_age_unknown_is_not_presumed_minor() -> None:
    identity = an_adult(date_of_birth=None)
    trafficking = labor_trafficking(commercial_sex_act=True)
    command = open_case_command(
        identity=identity, intake=an_intake(age_at_intake=None), trafficking=trafficking
    )
    assert open_case(command) == [opened_event(identity=identity, trafficking=trafficking)]


# -- DetermineVictimStatus -------------------------------------------------------------------------


def test_determine_victim_status_records_it() -> None:
    status = a_victim_status(
        status="confirmed", determined_on=day(2, 10), determined_by="certifying-agency-role"
    )
    assert when([opened_event()], cmd.DetermineVictimStatus(victim_status=status)) == [
        ev.VictimStatusDetermined(victim_status=status)
    ]


def test_determine_victim_status_with_an_unknown_status_is_refused() -> None:
    with pytest.raises(err.InvalidCode):
        when(
            [opened_event()],
            cmd.DetermineVictimStatus(victim_status=a_victim_status(status="probable")),
        )


def test_determine_victim_status_in_the_future_is_refused() -> None:
    with pytest.raises(err.DateInFuture):
        when(
            [opened_event()],
            cmd.DetermineVictimStatus(victim_status=a_victim_status(determined_on=day(9, 17))),
        )


def test_determine_victim_status_without_a_determiner_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when(
            [opened_event()],
            cmd.DetermineVictimStatus(victim_status=a_victim_status(determined_by="")),
        )


# -- UpdateTraffickingContext --------------------------------------------------------------------


def test_update_trafficking_context_records_it() -> None:
    trafficking = labor_trafficking(trafficking_type="both", sex_exploitation=("escort",))
    assert when([opened_event()], cmd.UpdateTraffickingContext(trafficking=trafficking)) == [
        ev.TraffickingContextUpdated(trafficking=trafficking)
    ]


@pytest.mark.parametrize(
    "trafficking",
    [
        labor_trafficking(trafficking_type="unknown_type"),
        labor_trafficking(control_methods=("not_a_method",)),
    ],
    ids=["trafficking_type", "control_method"],
)
def test_update_trafficking_context_with_an_unknown_code_is_refused(trafficking) -> None:
    with pytest.raises(err.InvalidCode):
        when([opened_event()], cmd.UpdateTraffickingContext(trafficking=trafficking))


def test_update_trafficking_context_labor_with_sex_exploitation_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when(
            [opened_event()],
            cmd.UpdateTraffickingContext(
                trafficking=labor_trafficking(sex_exploitation=("pornography",))
            ),
        )


def test_update_trafficking_context_sex_with_labor_industries_is_refused() -> None:
    with pytest.raises(err.InvalidValue):
        when(
            [opened_event()],
            cmd.UpdateTraffickingContext(
                trafficking=sex_trafficking(labor_industries=("fishing",))
            ),
        )


@pytest.mark.parametrize(
    "opened",
    [
        opened_minor(),
        opened_minor(identity=a_minor(date_of_birth=None), intake=an_intake(age_at_intake=14)),
    ],
    ids=["by_date_of_birth", "by_age_at_intake"],
)
def test_update_reclassifying_a_minor_in_commercial_sex_as_labor_is_refused(
    opened: ev.CaseOpened,
) -> None:
    update = cmd.UpdateTraffickingContext(trafficking=labor_trafficking(commercial_sex_act=True))
    with pytest.raises(err.MinorSexTraffickingMisclassified):
        when([opened], update)


@pytest.mark.parametrize("trafficking_type", ["sex", "both"])
def test_update_of_a_minor_in_commercial_sex_as_sex_trafficking_is_accepted(
    trafficking_type: str,
) -> None:
    trafficking = sex_trafficking(trafficking_type=trafficking_type, control_methods=("threats",))
    assert when([opened_minor()], cmd.UpdateTraffickingContext(trafficking=trafficking)) == [
        ev.TraffickingContextUpdated(trafficking=trafficking)
    ]


def test_update_uses_the_age_at_intake_not_today() -> None:
    # 15 at intake in January 2026: still a minor for this rule, whatever the clock says later.
    later = dt.datetime(2030, 1, 1, 12, 0, tzinfo=dt.UTC)
    update = cmd.UpdateTraffickingContext(trafficking=labor_trafficking(commercial_sex_act=True))
    with pytest.raises(err.MinorSexTraffickingMisclassified):
        when([opened_minor()], update, now=later)
