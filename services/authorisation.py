"""Who may do what to which case: one table of rules (`RULES`), plain functions, no I/O.

Every endpoint names one `Action`. The caller loads the few facts about the case that
authorisation needs (`CaseFacts`, or None when there is no such case in the caller's
organisation) and asks `authorise` / `require`; break-the-glass grants and the organisation's
team-access setting are looked up by the caller and passed in as booleans. The policy, the
order of the refusals (403 whatever the id, then 404, then 403) and the reasons behind each
rule are in docs/security.md#authorisation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from domain.case.state import CaseState
    from services.identity.claims import Principal


class Action(StrEnum):
    WHOAMI = "whoami"
    CASE_OPEN = "case.open"
    CASE_LIST_MINE = "case.list_mine"
    CASE_SEARCH = "case.search"
    CASELOAD_TEAM = "caseload.team"
    REPORT_FEDERAL = "report.federal"
    REPORT_REFUSALS = "report.refusals"
    ACCESS_REVIEW = "access.review"
    CASE_READ = "case.read"
    CASE_HISTORY = "case.history"
    CASE_READ_IMMIGRATION = "case.read_immigration"
    CASE_COMMAND = "case.command"
    CASE_IMMIGRATION = "case.immigration"
    CASE_TRANSFER = "case.transfer"
    TRANSFER_LIST = "transfer.list"
    TRANSFER_ANSWER = "transfer.answer"
    INBOX_LIST = "inbox.list"
    INBOX_READ = "inbox.read"
    INBOX_ANSWER = "inbox.answer"
    CASE_CLOSE = "case.close"
    CASE_ASSIGN = "case.assign"
    CASE_BREAK_GLASS = "case.break_glass"
    CASE_ACCESS_LOG = "case.access_log"
    CASE_ERASE = "case.erase"
    RETENTION_POLICY_READ = "retention.policy_read"
    RETENTION_POLICY_SET = "retention.policy_set"
    CASE_EXPORT = "case.export"
    SCREENING_RECORD = "screening.record"
    SCREENING_READ = "screening.read"
    SCREENING_SUMMARY = "screening.summary"
    INSTRUMENT_LIST = "instrument.list"
    ACTIVITY_RECORD = "activity.record"
    ACTIVITY_LIST = "activity.list"
    ACTIVITY_SUMMARY = "activity.summary"
    DIRECTORY_SEARCH = "directory.search"
    DIRECTORY_PUBLISH = "directory.publish"
    DIRECTORY_IMPORT = "directory.import"
    DIRECTORY_EXPORT = "directory.export"
    FOLLOW_UP_RULES_READ = "follow_up.rules_read"
    FOLLOW_UP_RULES_SET = "follow_up.rules_set"
    TASK_LIST_MINE = "task.list_mine"
    TASK_UPDATE = "task.update"
    TASK_OVERDUE_TEAM = "task.overdue_team"
    ORGANISATION_READ = "organisation.read"
    ORGANISATION_MANAGE = "organisation.manage"
    ORGANISATION_PICK = "organisation.pick"
    ORGANISATION_PARTNER_WORKERS = "organisation.partner_workers"


class Basis(StrEnum):
    ASSIGNMENT = "assignment"
    TEAM = "team"
    BREAK_GLASS = "break-glass"
    PRIVACY_REVIEW = "privacy-review"
    INBOX = "inbox"
    ROLE = "role"


class Outcome(StrEnum):
    ALLOW = "allow"
    NOT_FOUND = "not-found"  # 404
    FORBIDDEN = "forbidden"  # 403


@dataclass(frozen=True, slots=True)
class CaseFacts:
    """What authorisation needs to know about a case that exists."""

    organisation_id: str
    worker_id: str | None
    team_id: str | None

    @classmethod
    def of(cls, state: CaseState) -> CaseFacts | None:
        """The facts of a folded case; ``None`` for a case without events (it does not exist)."""
        if not state.exists or state.organisation_id is None:
            return None
        return cls(
            organisation_id=state.organisation_id, worker_id=state.worker_id, team_id=state.team_id
        )


@dataclass(frozen=True, slots=True)
class Decision:
    outcome: Outcome
    basis: Basis | None = None  # set exactly when allowed

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW


NOT_FOUND: Final = Decision(Outcome.NOT_FOUND)
FORBIDDEN: Final = Decision(Outcome.FORBIDDEN)


def allow(basis: Basis) -> Decision:
    return Decision(Outcome.ALLOW, basis)


class AuthorisationError(Exception):
    """A refusal. Carries no id, organisation or role: the message is the same for every caller."""

    code: str = "forbidden"

    def __init__(self) -> None:
        super().__init__(self.code)


class NotFound(AuthorisationError):
    """404: no such case for this caller (including another organisation's case)."""

    code = "not-found"


class Forbidden(AuthorisationError):
    """403: the caller's role, assignment or team does not permit the action."""

    code = "forbidden"


# -- grants: one condition under which a role may act, and the basis it reports -----------------


@dataclass(frozen=True, slots=True)
class Context:
    principal: Principal
    case: CaseFacts | None  # in the caller's organisation, when the action is about a case
    has_break_glass: bool
    team_access: bool


@dataclass(frozen=True, slots=True)
class Grant:
    basis: Basis
    holds: Callable[[Context], bool]
    name: str


def _same_team(ctx: Context) -> bool:
    return ctx.case is not None and ctx.case.team_id == ctx.principal.team_id


def _assigned(ctx: Context) -> bool:
    return ctx.case is not None and ctx.case.worker_id == ctx.principal.user_id


BY_ROLE = Grant(Basis.ROLE, lambda ctx: True, "role")
ASSIGNED = Grant(Basis.ASSIGNMENT, _assigned, "assigned")
TEAM_IF_ENABLED = Grant(
    Basis.TEAM, lambda ctx: ctx.team_access and _same_team(ctx), "team-if-enabled"
)
OWN_TEAM = Grant(Basis.TEAM, _same_team, "own-team")
TEAM_CASELOAD = Grant(Basis.TEAM, lambda ctx: True, "team-caseload")  # always the caller's own team
BREAK_GLASS = Grant(
    Basis.BREAK_GLASS, lambda ctx: ctx.has_break_glass and _same_team(ctx), "break-glass"
)
ORGANISATION = Grant(Basis.PRIVACY_REVIEW, lambda ctx: ctx.case is not None, "own-organisation")
# a referral in the organisation's inbox: addressed to the organisation, not to a worker
INBOX = Grant(Basis.INBOX, lambda ctx: ctx.case is not None, "organisation-inbox")

_PRECEDENCE = (
    Basis.ASSIGNMENT,
    Basis.TEAM,
    Basis.BREAK_GLASS,
    Basis.PRIVACY_REVIEW,
    Basis.INBOX,
    Basis.ROLE,
)


@dataclass(frozen=True, slots=True)
class Rule:
    """Which roles may take an action, and under which grants. Roles not listed: never."""

    about_a_case: bool
    grants: Mapping[str, tuple[Grant, ...]]


def _rule(about_a_case: bool, **grants: tuple[Grant, ...]) -> Rule:
    return Rule(about_a_case, MappingProxyType(grants))


_WORKER_CONTENT = (ASSIGNED, TEAM_IF_ENABLED)

# THE table. Role names are those of `services.identity.claims.ROLES`.
RULES: Mapping[Action, Rule] = MappingProxyType(
    {
        Action.WHOAMI: _rule(
            False,
            caseworker=(BY_ROLE,),
            supervisor=(BY_ROLE,),
            privacy_officer=(BY_ROLE,),
            reporter=(BY_ROLE,),
            admin=(BY_ROLE,),
            outreach=(BY_ROLE,),
        ),
        Action.CASE_OPEN: _rule(False, caseworker=(BY_ROLE,)),
        Action.CASE_LIST_MINE: _rule(False, caseworker=(BY_ROLE,)),
        # within the organisation's blind index; the answer keeps only cases the caller may
        # read (CASE_READ, checked per case: `services.case_finding`)
        Action.CASE_SEARCH: _rule(False, caseworker=(BY_ROLE,)),
        Action.CASELOAD_TEAM: _rule(False, supervisor=(TEAM_CASELOAD,)),
        Action.REPORT_FEDERAL: _rule(False, reporter=(BY_ROLE,)),
        Action.REPORT_REFUSALS: _rule(False, privacy_officer=(BY_ROLE,)),
        Action.ACCESS_REVIEW: _rule(False, privacy_officer=(BY_ROLE,)),
        Action.CASE_READ: _rule(True, caseworker=_WORKER_CONTENT, supervisor=(BREAK_GLASS,)),
        Action.CASE_HISTORY: _rule(True, caseworker=_WORKER_CONTENT, supervisor=(BREAK_GLASS,)),
        Action.CASE_READ_IMMIGRATION: _rule(True, caseworker=(ASSIGNED,)),
        Action.CASE_COMMAND: _rule(True, caseworker=_WORKER_CONTENT),
        Action.CASE_IMMIGRATION: _rule(True, caseworker=(ASSIGNED,)),
        Action.CASE_TRANSFER: _rule(True, caseworker=(ASSIGNED,)),
        Action.TRANSFER_LIST: _rule(False, caseworker=(BY_ROLE,), supervisor=(TEAM_CASELOAD,)),
        # about the incoming transfer: its facts are the recipient organisation, worker and team
        Action.TRANSFER_ANSWER: _rule(True, caseworker=(ASSIGNED,), supervisor=(OWN_TEAM,)),
        # referrals partner organisations sent to the caller's (docs/api.md#referral-inbox);
        # an item's facts are its recipient organisation alone
        Action.INBOX_LIST: _rule(False, caseworker=(BY_ROLE,), supervisor=(BY_ROLE,)),
        Action.INBOX_READ: _rule(True, caseworker=(INBOX,), supervisor=(INBOX,)),
        Action.INBOX_ANSWER: _rule(True, caseworker=(INBOX,), supervisor=(INBOX,)),
        Action.CASE_CLOSE: _rule(True, caseworker=_WORKER_CONTENT),
        Action.CASE_ASSIGN: _rule(True, supervisor=(OWN_TEAM,)),
        Action.CASE_BREAK_GLASS: _rule(True, supervisor=(OWN_TEAM,)),
        Action.CASE_ACCESS_LOG: _rule(True, privacy_officer=(ORGANISATION,)),
        Action.CASE_ERASE: _rule(True, privacy_officer=(ORGANISATION,)),
        Action.RETENTION_POLICY_READ: _rule(False, privacy_officer=(BY_ROLE,), admin=(BY_ROLE,)),
        Action.RETENTION_POLICY_SET: _rule(False, admin=(BY_ROLE,)),
        Action.CASE_EXPORT: _rule(True, privacy_officer=(ORGANISATION,)),
        # a screening of a case also needs CASE_COMMAND (to record) or CASE_READ (to read) on
        # it; a standalone one is read by who recorded it (`services.screening`)
        Action.SCREENING_RECORD: _rule(False, caseworker=(BY_ROLE,), outreach=(BY_ROLE,)),
        Action.SCREENING_READ: _rule(False, caseworker=(BY_ROLE,), outreach=(BY_ROLE,)),
        Action.SCREENING_SUMMARY: _rule(False, supervisor=(BY_ROLE,)),
        Action.INSTRUMENT_LIST: _rule(
            False, caseworker=(BY_ROLE,), supervisor=(BY_ROLE,), outreach=(BY_ROLE,)
        ),
        # outreach, training and technical assistance: the organisation's own activities
        # (recorded, corrected, withdrawn, listed); the summary is a supervisor's view
        Action.ACTIVITY_RECORD: _rule(
            False, caseworker=(BY_ROLE,), supervisor=(BY_ROLE,), outreach=(BY_ROLE,)
        ),
        Action.ACTIVITY_LIST: _rule(
            False, caseworker=(BY_ROLE,), supervisor=(BY_ROLE,), outreach=(BY_ROLE,)
        ),
        Action.ACTIVITY_SUMMARY: _rule(False, supervisor=(BY_ROLE,)),
        # the service directory: organisational, public facts; who refers searches it, the
        # administrator keeps the organisation's listings (docs/directory.md)
        Action.DIRECTORY_SEARCH: _rule(
            False,
            caseworker=(BY_ROLE,),
            supervisor=(BY_ROLE,),
            admin=(BY_ROLE,),
            outreach=(BY_ROLE,),
        ),
        Action.DIRECTORY_PUBLISH: _rule(False, admin=(BY_ROLE,)),
        Action.DIRECTORY_IMPORT: _rule(False, admin=(BY_ROLE,)),
        Action.DIRECTORY_EXPORT: _rule(False, admin=(BY_ROLE,)),
        # follow-up rules and the tasks they make: the administrator sets the rules, the
        # supervisor reads them and their team's overdue counts; a task is its case's
        # assigned worker's alone (docs/api.md#follow-up-tasks)
        Action.FOLLOW_UP_RULES_READ: _rule(False, supervisor=(BY_ROLE,), admin=(BY_ROLE,)),
        Action.FOLLOW_UP_RULES_SET: _rule(False, admin=(BY_ROLE,)),
        Action.TASK_LIST_MINE: _rule(False, caseworker=(BY_ROLE,)),
        Action.TASK_UPDATE: _rule(True, caseworker=(ASSIGNED,)),
        Action.TASK_OVERDUE_TEAM: _rule(False, supervisor=(TEAM_CASELOAD,)),
        # the organisation's profile, teams, partners and workers: its administrator keeps
        # them; who assigns or refers picks active workers, teams and partners from them
        Action.ORGANISATION_READ: _rule(False, admin=(BY_ROLE,)),
        Action.ORGANISATION_MANAGE: _rule(False, admin=(BY_ROLE,)),
        Action.ORGANISATION_PICK: _rule(
            False, caseworker=(BY_ROLE,), supervisor=(BY_ROLE,), admin=(BY_ROLE,)
        ),
        # a partner organisation's active workers, to name one as a transfer's receiving
        # worker: the roles that ask for a transfer (CASE_TRANSFER), staff data only
        Action.ORGANISATION_PARTNER_WORKERS: _rule(False, caseworker=(BY_ROLE,)),
    }
)


def missing_rules(rules: Mapping[Action, Rule] | None = None) -> set[Action]:
    """Actions without a rule (the table must name every action; checked by the tests)."""
    return set(Action) - set(RULES if rules is None else rules)


def authorise(
    principal: Principal,
    action: Action | str,
    case: CaseFacts | None,
    *,
    has_break_glass: bool = False,
    team_access: bool = False,
) -> Decision:
    """Decide one request. `case`: the case's facts, ``None`` when there is no such case.

    For actions that are not about a case (`Rule.about_a_case` false) pass ``case=None``.
    """
    rule = RULES.get(Action(action))
    if rule is None:  # an action without a rule is refused, never allowed by default
        return FORBIDDEN
    grants = [grant for role in sorted(principal.roles) for grant in rule.grants.get(role, ())]
    if not grants:
        return FORBIDDEN  # does not depend on the case: reveals nothing about which ids exist
    if rule.about_a_case:
        if case is None or case.organisation_id != principal.organisation_id:
            return NOT_FOUND
    elif case is not None:
        raise ValueError(f"{Action(action)} is not about a case; pass case=None")
    ctx = Context(principal, case, has_break_glass, team_access)
    held = {grant.basis for grant in grants if grant.holds(ctx)}
    for basis in _PRECEDENCE:
        if basis in held:
            return allow(basis)
    return FORBIDDEN


def require(
    principal: Principal,
    action: Action | str,
    case: CaseFacts | None,
    *,
    has_break_glass: bool = False,
    team_access: bool = False,
) -> Decision:
    """`authorise`, raising `NotFound` or `Forbidden` on refusal; returns the allowing decision."""
    decision = authorise(
        principal, action, case, has_break_glass=has_break_glass, team_access=team_access
    )
    if decision.outcome is Outcome.NOT_FOUND:
        raise NotFound()
    if decision.outcome is Outcome.FORBIDDEN:
        raise Forbidden()
    return decision
