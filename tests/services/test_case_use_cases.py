"""The case use cases end to end: `CaseUseCases` over the real event store and PostgreSQL.

Every value is synthetic (no real person, place or number). The clock is injected, so the
domain's "not in the future" checks do not depend on when the suite runs.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import AsyncIterator

import msgspec
import pytest

from domain.case import commands as cmd
from domain.case import errors as err
from domain.case import events as ev
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
from domain.event import DomainEvent, EventMetadata
from events.catalog import haven_registry
from events.errors import ConcurrencyConflict
from events.registry import EventRegistry
from events.store import PostgresEventStore
from services.commands.use_cases import Actor, CaseUseCases

TODAY = dt.date(2026, 3, 2)
NOW = dt.datetime(2026, 3, 2, 15, 30, tzinfo=dt.UTC)
INTAKE_ON = dt.date(2025, 11, 3)
HARBOR, LANTERN = "org-harbor", "org-lantern"
WORKER = Actor("worker-harbor-1", HARBOR, "req-1")
SUPERVISOR = Actor("supervisor-harbor", HARBOR, "req-2")
PARTNER = "partner-community-clinic"


def day(offset: int) -> dt.date:
    return INTAKE_ON + dt.timedelta(days=offset)


def new_id() -> str:
    return str(uuid.uuid4())


def opening(case_id: str, organisation: str = HARBOR, worker: str = WORKER.user_id) -> cmd.OpenCase:
    return cmd.OpenCase(
        case_id=case_id,
        organisation_id=organisation,
        intake=Intake(
            intake_on=INTAKE_ON,
            intake_type="hotline",
            referral_on=day(-1),
            referral_source="hotline",
            matched_within_48h=True,
            eligibility_status="eligible",
            family_served=FamilyServed(siblings=1),
        ),
        victim_status=VictimStatus(
            status="strong_indicators", determined_on=INTAKE_ON, determined_by=worker
        ),
        identity=Identity(
            preferred_name="Client Heron 0001",
            aliases=("Heron-1",),
            date_of_birth=dt.date(1999, 6, 1),
        ),
        contact=SafeContact(
            channels=(ContactChannel(channel="text_message", detail="555-0142"),),
            code_word="heron lantern",
        ),
        demographics=Demographics(
            gender_identity="woman",
            lgbtq="no",
            race_ethnicity=("asian",),
            citizenship="foreign_national",
            preferred_language="tl",
            interpreter_needed=True,
        ),
        trafficking=TraffickingContext(
            trafficking_type="labor",
            recruitment=("job_offer",),
            control_methods=("debt_bondage", "withholds_documents"),
            labor_industries=("domestic_work",),
            vulnerabilities=("recent_migration",),
            narrative="Synthetic narrative, no real person.",
        ),
        worker_id=worker,
        team_id="team-harbor-intake",
    )


def consent(
    consent_id: str, recipient: str, purpose: str, categories: tuple[str, ...], on: dt.date = day(5)
) -> cmd.GrantConsent:
    return cmd.GrantConsent(
        consent_id=consent_id,
        recipient_organisation=recipient,
        purpose=purpose,
        data_categories=categories,
        starts_on=on,
        expires_on=on + dt.timedelta(days=180),
        signed_on=on,
        revocation_explained=True,
        written=True,
    )


def service(service_id: str, on: dt.date = day(3)) -> cmd.RecordService:
    return cmd.RecordService(service_id=service_id, category="case_management", delivered_on=on)


@pytest.fixture
async def case_store(clean_pool, keyring) -> AsyncIterator[PostgresEventStore]:
    store = PostgresEventStore(clean_pool, keyring, haven_registry())
    yield store
    await close_store(store)


async def close_store(store: PostgresEventStore) -> None:
    close = getattr(store, "close", None)  # stores that wake subscribers in the background
    if close is not None:
        await close()


@pytest.fixture
def use_cases(case_store) -> CaseUseCases:
    return CaseUseCases(case_store, clock=lambda: NOW)


async def opened(use_cases: CaseUseCases, organisation: str = HARBOR) -> str:
    case_id = new_id()
    actor = WORKER if organisation == HARBOR else Actor("worker-lantern-1", organisation)
    assert await use_cases.open_case(actor, opening(case_id, organisation, actor.user_id)) == 1
    return case_id


# -- reading back -------------------------------------------------------------------------


async def test_an_opened_case_reads_back_with_every_intake_field(use_cases):
    case_id = new_id()
    command = opening(case_id)
    assert await use_cases.open_case(WORKER, command) == 1

    state = await use_cases.load(HARBOR, case_id)
    assert state.version == 1 and state.exists and not state.is_closed
    assert (state.case_id, state.organisation_id) == (case_id, HARBOR)
    assert state.intake == command.intake
    assert state.victim_status == command.victim_status
    assert state.identity == command.identity
    assert state.contact == command.contact
    assert state.demographics == command.demographics
    assert state.trafficking == command.trafficking
    assert (state.worker_id, state.team_id) == (WORKER.user_id, "team-harbor-intake")
    assert state.enrolments == 1 and state.enrolled_on == INTAKE_ON and not state.transferred_in


async def test_a_missing_or_malformed_case_loads_as_an_empty_state(use_cases):
    assert not (await use_cases.load(HARBOR, new_id())).exists
    assert not (await use_cases.load(HARBOR, "not-a-uuid")).exists


async def test_a_case_cannot_be_opened_in_another_organisation(use_cases, case_store):
    case_id = new_id()
    with pytest.raises(ValueError):
        await use_cases.open_case(WORKER, opening(case_id, LANTERN))
    assert await case_store.stream_version(LANTERN, uuid.UUID(case_id)) == 0
    assert await case_store.stream_version(HARBOR, uuid.UUID(case_id)) == 0


# -- every use case ------------------------------------------------------------------------


async def test_every_use_case_appends_and_returns_the_new_version(use_cases):
    case_id = new_id()
    uc = use_cases
    assert await uc.open_case(WORKER, opening(case_id)) == 1
    assert (
        await uc.determine_victim_status(
            WORKER,
            case_id,
            cmd.DetermineVictimStatus(
                victim_status=VictimStatus(
                    status="confirmed", determined_on=day(20), determined_by="hhs-otip"
                )
            ),
        )
        == 2
    )
    trafficking = msgspec.structs.replace(
        opening(case_id).trafficking, control_methods=("debt_bondage", "threats")
    )
    assert (
        await uc.update_trafficking_context(
            WORKER, case_id, cmd.UpdateTraffickingContext(trafficking=trafficking)
        )
        == 3
    )
    assert (
        await uc.record_consent(
            WORKER,
            case_id,
            consent("consent-1", PARTNER, "care_coordination", ("contact", "health")),
        )
        == 4
    )
    assert (
        await uc.record_consent(
            WORKER, case_id, cmd.RecordStatisticsConsent(agrees=True, recorded_on=day(0))
        )
        == 5
    )
    assert (
        await uc.assess_needs(
            WORKER,
            case_id,
            cmd.AssessNeeds(
                assessment_id="needs-1", assessed_on=day(1), needs=("medical", "legal_immigration")
            ),
        )
        == 6
    )
    assert (
        await uc.plan_goal(
            WORKER,
            case_id,
            cmd.SetGoal(
                goal_id="goal-1", category="medical", description="Synthetic goal.", set_on=day(2)
            ),
        )
        == 7
    )
    assert (
        await uc.plan_goal(
            WORKER,
            case_id,
            cmd.ChangeGoalStatus(goal_id="goal-1", status="in_progress", changed_on=day(9)),
        )
        == 8
    )
    assert (
        await uc.refer(
            WORKER,
            case_id,
            cmd.ProposeReferral(
                referral_id="referral-1",
                kind="external",
                category="medical",
                recipient=PARTNER,
                purpose="care_coordination",
                proposed_on=day(6),
                consent_id="consent-1",
                released_categories=("contact",),
            ),
        )
        == 9
    )
    assert (
        await uc.update_referral(
            WORKER,
            case_id,
            cmd.UpdateReferral(referral_id="referral-1", status="sent", changed_on=day(7)),
        )
        == 10
    )
    assert (
        await uc.update_referral(
            WORKER,
            case_id,
            cmd.UpdateReferral(referral_id="referral-1", status="accepted", changed_on=day(10)),
        )
        == 11
    )
    assert (
        await uc.record_service(
            WORKER,
            case_id,
            cmd.RecordService(
                service_id="service-1",
                category="medical",
                delivered_on=day(12),
                provider=PARTNER,
                referral_id="referral-1",
            ),
        )
        == 12
    )
    assert (
        await uc.assess_outcome(
            WORKER,
            case_id,
            cmd.AssessOutcome(
                assessment_id="outcome-1",
                assessed_on=day(14),
                scores={"safety": 2, "physical_health": 3},
            ),
        )
        == 13
    )
    assert (
        await uc.record_immigration_step(
            WORKER,
            case_id,
            cmd.RecordImmigrationStep(
                milestone_id="milestone-1", kind="continued_presence", step="requested", on=day(15)
            ),
        )
        == 14
    )
    assert (
        await uc.assign(
            SUPERVISOR,
            case_id,
            cmd.AssignCase(
                worker_id="worker-harbor-2",
                team_id="team-harbor-legal-advocacy",
                assigned_on=day(16),
            ),
        )
        == 15
    )
    # Revoking the consent also revokes the open referral that relied on it: two events.
    assert (
        await uc.record_consent(
            WORKER,
            case_id,
            cmd.RevokeConsent(consent_id="consent-1", revoked_on=day(20), method="oral"),
        )
        == 17
    )
    assert (
        await uc.close_case(
            WORKER,
            case_id,
            cmd.CloseCase(closed_on=day(30), reason="goals_met", living_situation="rental"),
        )
        == 18
    )
    assert await uc.reopen_case(WORKER, case_id, cmd.ReopenCase(reopened_on=day(40))) == 19
    assert (
        await uc.record_consent(
            WORKER,
            case_id,
            consent("consent-2", LANTERN, "case_transfer", ("needs", "services"), on=day(41)),
        )
        == 20
    )
    receiving_id = new_id()
    assert (
        await uc.transfer(
            WORKER,
            case_id,
            cmd.TransferCase(
                recipient_organisation=LANTERN,
                consent_id="consent-2",
                transferred_on=day(42),
                receiving_case_id=receiving_id,
                receiving_worker_id="worker-lantern-1",
                receiving_team_id="team-lantern-intake",
            ),
        )
        == 22
    )

    state = await uc.load(HARBOR, case_id)
    assert state.version == 22
    assert state.victim_status.status == "confirmed" and state.trafficking == trafficking
    assert state.consents["consent-1"].revoked.method == "oral"
    assert state.statistics_consent is True
    assert state.goals["goal-1"].status == "in_progress"
    assert state.referrals["referral-1"].status == "revoked"
    assert [s.service_id for s in state.services] == ["service-1"]
    assert state.outcomes[0].scores == {"physical_health": 3, "safety": 2}
    assert state.milestones["milestone-1"].step == "requested"
    assert state.worker_id == "worker-harbor-2" and state.enrolments == 2
    assert (
        state.closure.reason == "transferred" and state.transfer.receiving_case_id == receiving_id
    )
    assert (await uc.load(LANTERN, receiving_id)).version == 1


async def test_the_actor_is_recorded_in_the_metadata_of_each_event(use_cases, case_store):
    case_id = await opened(use_cases)
    await use_cases.assign(
        SUPERVISOR,
        case_id,
        cmd.AssignCase(
            worker_id="worker-harbor-2", team_id="team-harbor-intake", assigned_on=day(1)
        ),
    )
    second = Actor("worker-harbor-2", HARBOR, "req-9")
    await use_cases.record_service(second, case_id, service("service-1"))

    recorded = await case_store.read_stream(HARBOR, uuid.UUID(case_id))
    assert [r.metadata.actor_id for r in recorded] == [
        "worker-harbor-1",
        "supervisor-harbor",
        "worker-harbor-2",
    ]
    assert recorded[2].metadata.correlation_id == "req-9"
    assert all(r.metadata.command_id for r in recorded)


# -- concurrency ---------------------------------------------------------------------------


async def test_a_stale_expected_version_is_a_conflict_and_appends_nothing(use_cases, case_store):
    case_id = await opened(use_cases)
    assert (
        await use_cases.record_service(WORKER, case_id, service("service-1"), expected_version=1)
        == 2
    )

    with pytest.raises(ConcurrencyConflict):
        await use_cases.record_service(WORKER, case_id, service("service-2"), expected_version=1)
    with pytest.raises(ConcurrencyConflict):
        await use_cases.close_case(
            WORKER,
            case_id,
            cmd.CloseCase(closed_on=day(5), reason="goals_met", living_situation="rental"),
            expected_version=1,
        )
    assert await case_store.stream_version(HARBOR, uuid.UUID(case_id)) == 2
    assert [s.service_id for s in (await use_cases.load(HARBOR, case_id)).services] == ["service-1"]


async def test_two_concurrent_commands_with_the_same_expected_version_exactly_one_wins(
    use_cases, case_store
):
    case_id = await opened(use_cases)
    outcomes = await asyncio.gather(
        use_cases.record_service(WORKER, case_id, service("service-a"), expected_version=1),
        use_cases.record_service(WORKER, case_id, service("service-b"), expected_version=1),
        return_exceptions=True,
    )
    # the loser is a conflict: at its append, or before it when it read the winner's version
    kinds = [
        ConcurrencyConflict if isinstance(o, ConcurrencyConflict) else type(o) for o in outcomes
    ]
    assert sorted(kinds, key=str) == sorted([int, ConcurrencyConflict], key=str)
    state = await use_cases.load(HARBOR, case_id)
    assert state.version == 2 and len(state.services) == 1


class RacingStore:
    """The real store, except that appends wait until both racers have decided: a true race."""

    def __init__(self, store: PostgresEventStore, racers: int) -> None:
        self._store = store
        self._barrier = asyncio.Barrier(racers)
        self.pool = store.pool
        self.read_stream = store.read_stream

    async def append(self, *args, **kwargs):
        await self._barrier.wait()
        return await self._store.append(*args, **kwargs)


async def test_two_commands_decided_on_the_same_state_exactly_one_is_appended(
    use_cases, case_store
):
    case_id = await opened(use_cases)
    racing = CaseUseCases(RacingStore(case_store, 2), clock=lambda: NOW)  # type: ignore[arg-type]
    outcomes = await asyncio.gather(
        racing.record_service(WORKER, case_id, service("service-a")),
        racing.assess_needs(
            WORKER,
            case_id,
            cmd.AssessNeeds(assessment_id="needs-1", assessed_on=day(2), needs=("medical",)),
        ),
        return_exceptions=True,
    )
    assert sorted(map(type, outcomes), key=str) == sorted([int, ConcurrencyConflict], key=str)
    assert 2 in outcomes
    assert await case_store.stream_version(HARBOR, uuid.UUID(case_id)) == 2


# -- transfer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "released",
    [
        ("demographics", "trafficking", "needs"),
        ("identity", "contact", "demographics", "trafficking", "needs"),
    ],
    ids=["identity-withheld", "identity-released"],
)
async def test_a_transfer_closes_here_and_opens_there_with_only_the_released_categories(
    use_cases, case_store, released
):
    case_id = await opened(use_cases)
    await use_cases.record_consent(
        WORKER, case_id, consent("consent-t", LANTERN, "case_transfer", released)
    )
    source = await use_cases.load(HARBOR, case_id)
    receiving_id = new_id()

    version = await use_cases.transfer(
        WORKER,
        case_id,
        cmd.TransferCase(
            recipient_organisation=LANTERN,
            consent_id="consent-t",
            transferred_on=day(10),
            receiving_case_id=receiving_id,
            receiving_worker_id="worker-lantern-1",
            receiving_team_id="team-lantern-intake",
            living_situation="shelter",
        ),
    )

    assert version == 4
    closed = await use_cases.load(HARBOR, case_id)
    assert closed.is_closed and closed.closure.reason == "transferred"
    assert closed.closure.living_situation == "shelter"
    assert closed.transfer.recipient_organisation == LANTERN
    assert closed.transfer.released_categories == tuple(sorted(released))

    received = await use_cases.load(LANTERN, receiving_id)
    assert received.version == 1 and received.transferred_in
    assert received.organisation_id == LANTERN and received.worker_id == "worker-lantern-1"
    assert received.intake.intake_type == "transfer" and received.intake.intake_on == day(10)
    assert received.demographics == source.demographics
    assert (
        received.trafficking == source.trafficking
        and received.victim_status == source.victim_status
    )
    if "identity" in released:
        assert received.identity == source.identity and received.contact == source.contact
    else:
        assert received.identity is None and received.contact is None
    assert not received.consents and not received.needs  # case content never travels as events
    (first,) = await case_store.read_stream(LANTERN, uuid.UUID(receiving_id))
    assert first.metadata.actor_id == f"transfer-from:{HARBOR}"  # no sending-org user id there

    # The receiving case belongs to the receiving organisation only.
    assert not (await use_cases.load(HARBOR, receiving_id)).exists
    assert await case_store.stream_version(HARBOR, uuid.UUID(receiving_id)) == 0


async def test_a_transfer_is_atomic_when_the_receiving_side_fails(use_cases, case_store):
    case_id = await opened(use_cases)
    taken = await opened(use_cases, LANTERN)  # the receiving case id is already in use there
    await use_cases.record_consent(
        WORKER, case_id, consent("consent-t", LANTERN, "case_transfer", ("needs",))
    )

    with pytest.raises(ConcurrencyConflict):
        await use_cases.transfer(
            WORKER,
            case_id,
            cmd.TransferCase(
                recipient_organisation=LANTERN,
                consent_id="consent-t",
                transferred_on=day(10),
                receiving_case_id=taken,
                receiving_worker_id="worker-lantern-1",
                receiving_team_id="team-lantern-intake",
            ),
        )

    source = await use_cases.load(HARBOR, case_id)
    assert source.version == 2 and not source.is_closed and source.transfer is None
    assert (await use_cases.load(LANTERN, taken)).version == 1


async def test_a_transfer_without_a_case_transfer_consent_appends_nothing(use_cases, case_store):
    case_id = await opened(use_cases)
    receiving_id = new_id()
    with pytest.raises(err.ConsentNotFound):
        await use_cases.transfer(
            WORKER,
            case_id,
            cmd.TransferCase(
                recipient_organisation=LANTERN,
                consent_id="consent-none",
                transferred_on=day(10),
                receiving_case_id=receiving_id,
                receiving_worker_id="worker-lantern-1",
                receiving_team_id="team-lantern-intake",
            ),
        )
    assert await case_store.stream_version(HARBOR, uuid.UUID(case_id)) == 1
    assert await case_store.stream_version(LANTERN, uuid.UUID(receiving_id)) == 0


# -- refusals -------------------------------------------------------------------------------

REFUSALS = [
    pytest.param(
        "close_case",
        cmd.CloseCase(closed_on=day(20), reason="goals_met", living_situation="rental"),
        err.OpenReferralsOnClosure,
        id="closure-with-an-open-referral",
    ),
    pytest.param(
        "refer",
        cmd.ProposeReferral(
            referral_id="referral-2",
            kind="external",
            category="medical",
            recipient=PARTNER,
            purpose="care_coordination",
            proposed_on=day(6),
            released_categories=("contact",),
        ),
        err.ConsentRequired,
        id="external-without-consent",
    ),
    pytest.param(
        "record_service",
        service("service-x", on=TODAY + dt.timedelta(days=3)),
        err.DateInFuture,
        id="service-in-the-future",
    ),
    pytest.param(
        "update_referral",
        cmd.UpdateReferral(referral_id="referral-1", status="completed", changed_on=day(8)),
        err.IllegalReferralTransition,
        id="completed-before-accepted",
    ),
]


@pytest.mark.parametrize(("use_case", "command", "error"), REFUSALS)
async def test_a_refused_command_appends_nothing(use_cases, case_store, use_case, command, error):
    case_id = await opened(use_cases)
    await use_cases.refer(
        WORKER,
        case_id,
        cmd.ProposeReferral(
            referral_id="referral-1",
            kind="internal",
            category="housing_shelter",
            recipient="team-harbor-adult-services",
            purpose="service_referral",
            proposed_on=day(4),
        ),
    )
    before = await case_store.read_stream(HARBOR, uuid.UUID(case_id))

    with pytest.raises(error):
        await getattr(use_cases, use_case)(WORKER, case_id, command)

    after = await case_store.read_stream(HARBOR, uuid.UUID(case_id))
    assert [(r.version, r.event) for r in after] == [(r.version, r.event) for r in before]


async def test_commands_on_a_missing_case_are_refused(use_cases, case_store):
    case_id = new_id()
    with pytest.raises(err.CaseNotFound):
        await use_cases.record_service(WORKER, case_id, service("service-1"))
    assert await case_store.stream_version(HARBOR, uuid.UUID(case_id)) == 0


# -- stored v1 events ---------------------------------------------------------------------


class DemographicsV1(msgspec.Struct, frozen=True, kw_only=True):
    """Demographics as schema version 1 of `case.opened` stored them: LGBTQ2S+ as a
    nullable boolean."""

    gender_identity: str = "not_reported"
    lgbtq: bool | None = None
    race_ethnicity: tuple[str, ...] = ()
    disabilities: tuple[str, ...] = ()
    citizenship: str | None = None
    preferred_language: str | None = None
    interpreter_needed: bool = False


class CaseOpenedV1(DomainEvent, frozen=True, kw_only=True, tag="case.opened"):
    case_id: str
    organisation_id: str
    intake: Intake
    victim_status: VictimStatus | None = None
    identity: Identity | None = None
    contact: SafeContact | None = None
    demographics: DemographicsV1 | None = None
    trafficking: TraffickingContext | None = None
    worker_id: str
    team_id: str
    transferred_in: bool = False


@pytest.mark.parametrize(("stored", "read"), [(True, "yes"), (False, "no"), (None, "unknown")])
async def test_a_v1_case_opened_reads_back_through_the_upcaster(
    use_cases, case_store, clean_pool, keyring, stored, read
):
    assert CaseOpenedV1.schema_version == 1 and ev.CaseOpened.schema_version == 2
    old_store = PostgresEventStore(clean_pool, keyring, EventRegistry([CaseOpenedV1]))
    case_id = new_id()
    current = opening(case_id)
    old_event = CaseOpenedV1(
        case_id=case_id,
        organisation_id=HARBOR,
        intake=current.intake,
        victim_status=current.victim_status,
        identity=current.identity,
        contact=current.contact,
        demographics=DemographicsV1(gender_identity="man", lgbtq=stored, race_ethnicity=("white",)),
        trafficking=current.trafficking,
        worker_id=WORKER.user_id,
        team_id=current.team_id,
    )
    await old_store.append(
        HARBOR, uuid.UUID(case_id), 0, [old_event], EventMetadata(actor_id=WORKER.user_id)
    )
    await close_store(old_store)
    assert (
        await clean_pool.fetchval(
            "SELECT schema_version FROM haven.events WHERE stream_id = $1", uuid.UUID(case_id)
        )
        == 1
    )

    [recorded] = await case_store.read_stream(HARBOR, uuid.UUID(case_id))
    assert isinstance(recorded.event, ev.CaseOpened)
    assert recorded.event.demographics == Demographics(
        gender_identity="man", lgbtq=read, race_ethnicity=("white",)
    )
    state = await use_cases.load(HARBOR, case_id)
    assert state.demographics.lgbtq == read and state.identity == current.identity
    # The old case takes new commands like any other.
    assert await use_cases.record_service(WORKER, case_id, service("service-1")) == 2
