"""Use cases of a case: load it (`case_reader`), let the domain decide, append.

Each function receives who acts, records it in the events' metadata, and returns the case's
new version; who may act is decided before (`case_commands`). `expected_version` makes a
stale caller fail with `StaleVersion` (a `ConcurrencyConflict`) instead of deciding on a
state it never saw.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from types import MappingProxyType

from domain.case import commands as cmd
from domain.case.decide import Context, decide, receiving_case
from domain.case.disclosures import releases
from domain.case.errors import ReferralNotFound, TransferNotFound
from domain.case.events import CaseTransferred, TransferRequested
from domain.case.state import CaseState, fold
from domain.event import DomainEvent, EventMetadata
from events.store import utc_now
from services.commands.case_reader import read_case
from services.commands.inbox_delivery import InboxRouting, routed
from services.commands.ports import Actor, CaseStore
from services.commands.refusals import StaleVersion
from services.commands.releases import append_releasing, disclose

__all__ = ["Actor", "CaseUseCases"]


class CaseUseCases:
    def __init__(
        self,
        store: CaseStore,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        known: Mapping[tuple[str, str], CaseState] | None = None,
        inbox: InboxRouting | None = None,
    ) -> None:
        """`known`: states the caller has just read, by (organisation, case id), used instead
        of reading those streams again. A state that has gone stale meanwhile cannot do harm:
        the append checks the stream's version and refuses (`ConcurrencyConflict`). `inbox`:
        how a referral reaches a partner's inbox (`inbox_delivery`); None: every referral goes
        outside Haven."""
        self._store = store
        self._inbox = inbox
        self._clock = clock
        self._known = dict(known or {})
        self._appended_states: dict[tuple[str, str], CaseState] = {}

    @property
    def appended(self) -> Mapping[tuple[str, str], CaseState]:
        """The state each of this object's appends left, by (organisation, case id) — whether
        that append is committed is the caller's to know (`services.recent_states`)."""
        return MappingProxyType(self._appended_states)

    async def load(self, organisation_id: str, case_id: str) -> CaseState:
        """The case's current state; an empty state when it does not exist (here)."""
        known = self._known.get((organisation_id, case_id))
        if known is not None:
            return known
        try:
            stream_id = uuid.UUID(case_id)
        except ValueError:
            return CaseState()
        return await read_case(self._store, organisation_id, stream_id)

    async def _decide(
        self, actor: Actor, case_id: str, command: cmd.Command, expected_version: int | None
    ) -> tuple[CaseState, list[DomainEvent]]:
        """Load the case, check the caller saw this version, and let the domain decide."""
        state = await self.load(actor.organisation_id, case_id)
        if expected_version is not None and expected_version != state.version:
            raise StaleVersion(case_id, expected_version)
        return state, decide(state, command, self.context(actor))

    async def execute(
        self, actor: Actor, case_id: str, command: cmd.Command, expected_version: int | None = None
    ) -> int:
        """Any command on an existing case: decided on its state, appended at its version."""
        if isinstance(command, cmd.UpdateReferral):  # to a partner's inbox?
            state = await self.load(actor.organisation_id, case_id)
            command = await routed(self._inbox, state, command)
        state, events = await self._decide(actor, case_id, command, expected_version)
        result = await append_releasing(self._store, actor, case_id, state, events, self.metadata)
        self._appended(actor.organisation_id, case_id, state, events)
        return result.version

    def _appended(
        self, organisation_id: str, case_id: str, state: CaseState, events: list[DomainEvent]
    ) -> None:
        self._appended_states[(organisation_id, case_id)] = fold(
            enumerate(events, start=state.version + 1), state
        )

    def context(self, actor: Actor) -> Context:
        """What the domain decides with: the clock's time and who acts."""
        return Context(now=self._clock(), actor_id=actor.user_id)

    @staticmethod
    def metadata(actor: Actor) -> EventMetadata:
        """What every event of one command records: who acted, the command, the request."""
        return EventMetadata(
            actor_id=actor.user_id, command_id=uuid.uuid4().hex, correlation_id=actor.request_id
        )

    # -- one function per use case --------------------------------------------------

    async def open_case(self, actor: Actor, command: cmd.OpenCase) -> int:
        """Intake: the case opens in the actor's own organisation."""
        if command.organisation_id != actor.organisation_id:
            raise ValueError("a case is opened in the actor's own organisation")
        return await self.execute(actor, command.case_id, command, expected_version=0)

    async def determine_victim_status(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.DetermineVictimStatus,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def update_trafficking_context(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.UpdateTraffickingContext,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def record_consent(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.GrantConsent | cmd.RevokeConsent | cmd.RecordStatisticsConsent,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def assess_needs(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.AssessNeeds,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def plan_goal(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.SetGoal | cmd.ChangeGoalStatus,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def refer(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.ProposeReferral,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def update_referral(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.UpdateReferral,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def record_service(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.RecordService,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def assess_outcome(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.AssessOutcome,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def record_immigration_step(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.RecordImmigrationStep,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def assign(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.AssignCase,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def close_case(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.CloseCase,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def reopen_case(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.ReopenCase,
        expected_version: int | None = None,
    ) -> int:
        return await self.execute(actor, case_id, command, expected_version)

    async def request_transfer(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.RequestTransfer,
        expected_version: int | None = None,
    ) -> int:
        """Ask another organisation to take the case over; nothing leaves the case yet."""
        return await self.execute(actor, case_id, command, expected_version)

    async def accept_transfer(
        self,
        actor: Actor,
        sending_organisation: str,
        case_id: str,
        transfer_id: str,
        accepted_on: dt.date,
    ) -> int:
        """The receiving organisation (`actor`'s) takes the case over: the sending case closes
        as transferred and `transfer_id` opens here with what the consent released, in one
        transaction. The sending case is read on the recipient's behalf, which only its pending
        request, addressed to this organisation, allows. Returns the receiving case's version."""
        state, pending = await self._asked_of(actor, sending_organisation, case_id, transfer_id)
        command = cmd.TransferCase(
            recipient_organisation=actor.organisation_id,
            consent_id=pending.consent_id,
            transferred_on=accepted_on,
            receiving_case_id=transfer_id,
            receiving_worker_id=pending.receiving_worker_id,
            receiving_team_id=pending.receiving_team_id,
            living_situation=pending.living_situation,
        )
        await self._carry_out(
            _answering(actor, sending_organisation), case_id, state, command, actor
        )
        return 1

    async def decline_transfer(
        self,
        actor: Actor,
        sending_organisation: str,
        case_id: str,
        transfer_id: str,
        declined_on: dt.date,
        reason: str | None,
    ) -> int:
        """The receiving organisation says no: the case stays where it is; returns its version."""
        state, _ = await self._asked_of(actor, sending_organisation, case_id, transfer_id)
        sender = _answering(actor, sending_organisation)
        events = decide(
            state,
            cmd.DeclineTransfer(transfer_id=transfer_id, declined_on=declined_on, reason=reason),
            self.context(sender),
        )
        result = await self._store.append(
            sending_organisation, uuid.UUID(case_id), state.version, events, self.metadata(sender)
        )
        self._appended(sending_organisation, case_id, state, events)
        return result.version

    async def transfer(
        self,
        actor: Actor,
        case_id: str,
        command: cmd.TransferCase,
        expected_version: int | None = None,
    ) -> int:
        """Carry out a transfer its recipient accepted outside Haven (the demo's organisations,
        an import): close here, open there, in one transaction. Through the API a transfer is
        a request the recipient answers (`request_transfer`, `accept_transfer`)."""
        state = await self.load(actor.organisation_id, case_id)
        if expected_version is not None and expected_version != state.version:
            raise StaleVersion(case_id, expected_version)
        receiver = Actor(
            f"transfer-from:{actor.organisation_id}",
            command.recipient_organisation,
            actor.request_id,
        )
        return await self._carry_out(actor, case_id, state, command, receiver)

    async def answer_referral(
        self, actor: Actor, sending_organisation: str, case_id: str, command: cmd.AnswerReferral
    ) -> int:
        """The recipient organisation (`actor`'s) answers a referral in its inbox; the answer
        is recorded on the sending case, as that organisation. Returns the case's version."""
        state = await self.load(sending_organisation, case_id)
        referral = state.referrals.get(command.referral_id)
        if referral is None or referral.proposed.recipient != actor.organisation_id:
            raise ReferralNotFound("no such referral in this organisation's inbox")
        recipient = Actor(f"referral-to:{actor.organisation_id}", sending_organisation)
        return await self.execute(recipient._replace(request_id=actor.request_id), case_id, command)

    async def _asked_of(
        self, actor: Actor, sending_organisation: str, case_id: str, transfer_id: str
    ) -> tuple[CaseState, TransferRequested]:
        state = await self.load(sending_organisation, case_id)
        pending = state.pending_transfer
        if (
            pending is None
            or pending.transfer_id != transfer_id
            or pending.recipient_organisation != actor.organisation_id
        ):
            raise TransferNotFound("no such transfer is waiting for an answer")
        return state, pending

    async def _carry_out(
        self,
        sender: Actor,
        case_id: str,
        state: CaseState,
        command: cmd.TransferCase,
        receiver: Actor,
    ) -> int:
        """Close the sending case as transferred and open the receiving one, in one transaction.
        Each organisation's record names only its own staff, or the other organisation."""
        events = decide(state, command, self.context(sender))
        transferred = next(e for e in events if isinstance(e, CaseTransferred))
        opened = receiving_case(state, transferred, command)
        async with self._store.transaction() as conn:
            result = await self._store.append(
                sender.organisation_id,
                uuid.UUID(case_id),
                state.version,
                events,
                self.metadata(sender),
                connection=conn,
            )
            await self._store.append(
                receiver.organisation_id,
                uuid.UUID(command.receiving_case_id),
                0,
                [opened],
                self.metadata(receiver),
                connection=conn,
            )
            await disclose(conn, sender, case_id, releases(state, events))
        self._appended(sender.organisation_id, case_id, state, events)
        self._appended(receiver.organisation_id, command.receiving_case_id, CaseState(), [opened])
        return result.version


def _answering(actor: Actor, sending_organisation: str) -> Actor:
    """Who the sending case records as answering its transfer request: the receiving
    organisation, never one of its staff (user ids of one organisation stay out of another's)."""
    return Actor(f"transfer-to:{actor.organisation_id}", sending_organisation, actor.request_id)
