"""`decide(state, command, context) -> events`: the one entry to the rules of a case.

Each command is dispatched to the rule of its area (`intake_rules`, `care_rules`,
`closure_rules`). Pure: the clock, the actor and the codebook come in through `Context`;
each refusal is a named `DomainError`; nothing here logs or does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from domain.case import care_rules, closure_rules, inbox_rules, intake_rules
from domain.case import commands as cmd
from domain.case import errors as err
from domain.case.checks import Context
from domain.case.closure_rules import receiving_case
from domain.case.state import CaseState
from domain.event import DomainEvent
from domain.text import text_faults

__all__ = ["Context", "decide", "receiving_case"]

C = TypeVar("C", bound=cmd.Command)
Rule = Callable[[CaseState, cmd.Command, Context], list[DomainEvent]]


def decide(state: CaseState, command: cmd.Command, context: Context) -> list[DomainEvent]:
    for pointer, rule in text_faults(command):  # every id and text member, `domain.text`
        raise err.InvalidValue(f"{pointer or 'the command'} {rule}")
    if isinstance(command, cmd.OpenCase):
        if state.exists:
            raise err.CaseAlreadyOpen("the case already exists")
        return intake_rules.open_case(command, context)
    if not state.exists:
        raise err.CaseNotFound("no such case")
    if isinstance(command, cmd.ReopenCase):
        return closure_rules.reopen(state, command, context)
    if state.is_closed and not isinstance(command, _AFTER_CLOSURE):
        raise err.CaseClosed("the case is closed; reopen it first")
    handler = _RULES.get(type(command))
    if handler is None:
        raise TypeError(f"no rule handles {type(command).__name__}")
    return handler(state, command, context)


def _rule(
    kind: type[C],
    rule: Callable[[CaseState, C, Context], list[DomainEvent]],
) -> tuple[type[cmd.Command], Rule]:
    """`rule` as an entry of the table, for commands of type `kind`."""

    def checked(state: CaseState, command: cmd.Command, context: Context) -> list[DomainEvent]:
        if not isinstance(command, kind):
            raise TypeError(f"the rule of {kind.__name__} cannot decide {type(command).__name__}")
        return rule(state, command, context)

    return kind, checked


# A client may revoke a consent, or change their mind about statistics, at any time —
# including after the case is closed (VAWA: consent is revocable).
_AFTER_CLOSURE = (cmd.RevokeConsent, cmd.RecordStatisticsConsent, cmd.DeclineTransfer)

_RULES: dict[type[cmd.Command], Rule] = dict(
    [
        _rule(cmd.DetermineVictimStatus, intake_rules.determine_status),
        _rule(cmd.UpdateTraffickingContext, intake_rules.update_trafficking),
        _rule(cmd.GrantConsent, intake_rules.grant_consent),
        _rule(cmd.RevokeConsent, intake_rules.revoke_consent),
        _rule(cmd.RecordStatisticsConsent, intake_rules.statistics_consent),
        _rule(cmd.AssessNeeds, care_rules.assess_needs),
        _rule(cmd.SetGoal, care_rules.set_goal),
        _rule(cmd.ChangeGoalStatus, care_rules.change_goal),
        _rule(cmd.ProposeReferral, care_rules.propose_referral),
        _rule(cmd.UpdateReferral, care_rules.update_referral),
        _rule(cmd.AnswerReferral, inbox_rules.answer_referral),
        _rule(cmd.ExpireReferral, inbox_rules.expire_referral),
        _rule(cmd.RecordService, care_rules.record_service),
        _rule(cmd.AssessOutcome, care_rules.assess_outcome),
        _rule(cmd.RecordImmigrationStep, care_rules.immigration_step),
        _rule(cmd.AssignCase, closure_rules.assign),
        _rule(cmd.RequestTransfer, closure_rules.request_transfer),
        _rule(cmd.DeclineTransfer, closure_rules.decline_transfer),
        _rule(cmd.TransferCase, closure_rules.transfer),
        _rule(cmd.CloseCase, closure_rules.close),
    ]
)
