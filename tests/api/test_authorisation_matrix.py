"""The authorisation matrix: every action x every role x every kind of case, written out by hand.

The expected answers below are a literal table, not derived from `RULES`, so that this test can
disagree with the code. Reading a row:

    (action, role, context,   own,  team, org,  other_org, none)

Cases, seen from the caller (user ``u-1`` of organisation ``org-a``, team ``t-1``):

* ``own``        case of org-a assigned to u-1, on team t-1
* ``team``       case of org-a assigned to u-2, on team t-1 (the caller's team, not assigned)
* ``org``        case of org-a assigned to u-3, on team t-2 (the caller's organisation only)
* ``other_org``  case of org-b assigned to "u-1" on "t-1": the same ids, another organisation
* ``none``       no such case

Contexts: ``plain`` (no grant, team access off), ``team_access`` (the organisation lets case
workers work their team's cases), ``break_glass`` (the caller holds an active break-the-glass
grant for the case), ``*`` (the same answer in all three).

Answers: an allowing basis (``ASSIGN``, ``TEAM``, ``GLASS``, ``PRIVACY``, ``ROLE``), ``N404``
(not found) or ``F403`` (forbidden).

The last section sends the same table over HTTP: every case endpoint is listed by hand with its
action (a route the app serves without a row fails), and the new command routes, the reads and
a control command are called by every role on each kind of case, with the organisation setting
``HAVEN_TEAM_ACCESS`` off, naming the caller's organisation, and naming only another one.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
import pytest

from domain.case.state import CaseState
from services import authorisation as authz
from services.api.cases.schemas import examples as schemas
from services.api.cases.schemas.examples import OPEN_CASE_EXAMPLE
from services.authorisation import (
    Action,
    AuthorisationError,
    CaseFacts,
    Decision,
    Forbidden,
    NotFound,
    authorise,
    require,
)
from services.bootstrap import Runtime
from services.identity import LocalIssuer
from services.identity.claims import DEFAULT_TEAM, ROLES, Principal
from services.settings import Settings
from tests.api.conftest import api_client

ASSIGN, TEAM, GLASS, PRIVACY, ROLE = "assignment", "team", "break-glass", "privacy-review", "role"
INBOX = "inbox"
N404, F403 = "404", "403"

CASE_TABLE: tuple[tuple[str, str, str, str, str, str, str, str], ...] = (
    # action                  role               context        own     team    org     other   none
    ("case.read", "caseworker", "plain", ASSIGN, F403, F403, N404, N404),
    ("case.read", "caseworker", "team_access", ASSIGN, TEAM, F403, N404, N404),
    ("case.read", "caseworker", "break_glass", ASSIGN, F403, F403, N404, N404),
    ("case.read", "supervisor", "plain", F403, F403, F403, N404, N404),
    ("case.read", "supervisor", "team_access", F403, F403, F403, N404, N404),
    ("case.read", "supervisor", "break_glass", GLASS, GLASS, F403, N404, N404),
    ("case.read", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.read", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.read", "admin", "*", F403, F403, F403, F403, F403),
    ("case.read", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.history", "caseworker", "plain", ASSIGN, F403, F403, N404, N404),
    ("case.history", "caseworker", "team_access", ASSIGN, TEAM, F403, N404, N404),
    ("case.history", "caseworker", "break_glass", ASSIGN, F403, F403, N404, N404),
    ("case.history", "supervisor", "plain", F403, F403, F403, N404, N404),
    ("case.history", "supervisor", "team_access", F403, F403, F403, N404, N404),
    ("case.history", "supervisor", "break_glass", GLASS, GLASS, F403, N404, N404),
    ("case.history", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.history", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.history", "admin", "*", F403, F403, F403, F403, F403),
    ("case.history", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.read_immigration", "caseworker", "*", ASSIGN, F403, F403, N404, N404),
    ("case.read_immigration", "supervisor", "*", F403, F403, F403, F403, F403),
    ("case.read_immigration", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.read_immigration", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.read_immigration", "admin", "*", F403, F403, F403, F403, F403),
    ("case.read_immigration", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.command", "caseworker", "plain", ASSIGN, F403, F403, N404, N404),
    ("case.command", "caseworker", "team_access", ASSIGN, TEAM, F403, N404, N404),
    ("case.command", "caseworker", "break_glass", ASSIGN, F403, F403, N404, N404),
    ("case.command", "supervisor", "*", F403, F403, F403, F403, F403),
    ("case.command", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.command", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.command", "admin", "*", F403, F403, F403, F403, F403),
    ("case.command", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.immigration", "caseworker", "*", ASSIGN, F403, F403, N404, N404),
    ("case.immigration", "supervisor", "*", F403, F403, F403, F403, F403),
    ("case.immigration", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.immigration", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.immigration", "admin", "*", F403, F403, F403, F403, F403),
    ("case.immigration", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.transfer", "caseworker", "*", ASSIGN, F403, F403, N404, N404),
    ("case.transfer", "supervisor", "*", F403, F403, F403, F403, F403),
    ("case.transfer", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.transfer", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.transfer", "admin", "*", F403, F403, F403, F403, F403),
    ("case.transfer", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.close", "caseworker", "plain", ASSIGN, F403, F403, N404, N404),
    ("case.close", "caseworker", "team_access", ASSIGN, TEAM, F403, N404, N404),
    ("case.close", "caseworker", "break_glass", ASSIGN, F403, F403, N404, N404),
    ("case.close", "supervisor", "*", F403, F403, F403, F403, F403),
    ("case.close", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.close", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.close", "admin", "*", F403, F403, F403, F403, F403),
    ("case.close", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.assign", "caseworker", "*", F403, F403, F403, F403, F403),
    ("case.assign", "supervisor", "*", TEAM, TEAM, F403, N404, N404),
    ("case.assign", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.assign", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.assign", "admin", "*", F403, F403, F403, F403, F403),
    ("case.assign", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.break_glass", "caseworker", "*", F403, F403, F403, F403, F403),
    ("case.break_glass", "supervisor", "*", TEAM, TEAM, F403, N404, N404),
    ("case.break_glass", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("case.break_glass", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.break_glass", "admin", "*", F403, F403, F403, F403, F403),
    ("case.break_glass", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.access_log", "caseworker", "*", F403, F403, F403, F403, F403),
    ("case.access_log", "supervisor", "*", F403, F403, F403, F403, F403),
    ("case.access_log", "privacy_officer", "*", PRIVACY, PRIVACY, PRIVACY, N404, N404),
    ("case.access_log", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.access_log", "admin", "*", F403, F403, F403, F403, F403),
    ("case.access_log", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.erase", "caseworker", "*", F403, F403, F403, F403, F403),
    ("case.erase", "supervisor", "*", F403, F403, F403, F403, F403),
    ("case.erase", "privacy_officer", "*", PRIVACY, PRIVACY, PRIVACY, N404, N404),
    ("case.erase", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.erase", "admin", "*", F403, F403, F403, F403, F403),
    ("case.erase", "outreach", "*", F403, F403, F403, F403, F403),
    ("case.export", "caseworker", "*", F403, F403, F403, F403, F403),
    ("case.export", "supervisor", "*", F403, F403, F403, F403, F403),
    ("case.export", "privacy_officer", "*", PRIVACY, PRIVACY, PRIVACY, N404, N404),
    ("case.export", "reporter", "*", F403, F403, F403, F403, F403),
    ("case.export", "admin", "*", F403, F403, F403, F403, F403),
    ("case.export", "outreach", "*", F403, F403, F403, F403, F403),
    # the "case" is an incoming transfer: its recipient organisation, the worker and team it names
    ("transfer.answer", "caseworker", "*", ASSIGN, F403, F403, N404, N404),
    ("transfer.answer", "supervisor", "*", TEAM, TEAM, F403, N404, N404),
    ("transfer.answer", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("transfer.answer", "reporter", "*", F403, F403, F403, F403, F403),
    ("transfer.answer", "admin", "*", F403, F403, F403, F403, F403),
    ("transfer.answer", "outreach", "*", F403, F403, F403, F403, F403),
    # a follow-up task of the case (tests/api/test_task_routes.py): its assigned worker's alone
    ("task.update", "caseworker", "*", ASSIGN, F403, F403, N404, N404),
    ("task.update", "supervisor", "*", F403, F403, F403, F403, F403),
    ("task.update", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("task.update", "reporter", "*", F403, F403, F403, F403, F403),
    ("task.update", "admin", "*", F403, F403, F403, F403, F403),
    ("task.update", "outreach", "*", F403, F403, F403, F403, F403),
    # the "case" is a referral in the organisation's inbox (tests/api/test_referral_inbox.py):
    # addressed to the organisation, so its workers and supervisors whatever their team
    ("inbox.read", "caseworker", "*", INBOX, INBOX, INBOX, N404, N404),
    ("inbox.read", "supervisor", "*", INBOX, INBOX, INBOX, N404, N404),
    ("inbox.read", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("inbox.read", "reporter", "*", F403, F403, F403, F403, F403),
    ("inbox.read", "admin", "*", F403, F403, F403, F403, F403),
    ("inbox.read", "outreach", "*", F403, F403, F403, F403, F403),
    ("inbox.answer", "caseworker", "*", INBOX, INBOX, INBOX, N404, N404),
    ("inbox.answer", "supervisor", "*", INBOX, INBOX, INBOX, N404, N404),
    ("inbox.answer", "privacy_officer", "*", F403, F403, F403, F403, F403),
    ("inbox.answer", "reporter", "*", F403, F403, F403, F403, F403),
    ("inbox.answer", "admin", "*", F403, F403, F403, F403, F403),
    ("inbox.answer", "outreach", "*", F403, F403, F403, F403, F403),
)

# Actions that are not about one case, for a caller with a team.
#   action             caseworker  supervisor  privacy_officer  reporter  admin  outreach
GLOBAL_TABLE: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("whoami", ROLE, ROLE, ROLE, ROLE, ROLE, ROLE),
    ("case.open", ROLE, F403, F403, F403, F403, F403),
    ("case.list_mine", ROLE, F403, F403, F403, F403, F403),
    ("case.search", ROLE, F403, F403, F403, F403, F403),
    ("transfer.list", ROLE, TEAM, F403, F403, F403, F403),
    ("inbox.list", ROLE, ROLE, F403, F403, F403, F403),
    ("report.refusals", F403, F403, ROLE, F403, F403, F403),
    ("caseload.team", F403, TEAM, F403, F403, F403, F403),
    ("report.federal", F403, F403, F403, ROLE, F403, F403),
    ("access.review", F403, F403, ROLE, F403, F403, F403),
    ("retention.policy_read", F403, F403, ROLE, F403, ROLE, F403),
    ("retention.policy_set", F403, F403, F403, F403, ROLE, F403),
    ("screening.record", ROLE, F403, F403, F403, F403, ROLE),
    ("screening.read", ROLE, F403, F403, F403, F403, ROLE),
    ("screening.summary", F403, ROLE, F403, F403, F403, F403),
    ("instrument.list", ROLE, ROLE, F403, F403, F403, ROLE),
    ("activity.record", ROLE, ROLE, F403, F403, F403, ROLE),
    ("activity.list", ROLE, ROLE, F403, F403, F403, ROLE),
    ("activity.summary", F403, ROLE, F403, F403, F403, F403),
    ("directory.search", ROLE, ROLE, F403, F403, ROLE, ROLE),
    ("directory.publish", F403, F403, F403, F403, ROLE, F403),
    ("directory.import", F403, F403, F403, F403, ROLE, F403),
    ("directory.export", F403, F403, F403, F403, ROLE, F403),
    ("follow_up.rules_read", F403, ROLE, F403, F403, ROLE, F403),
    ("follow_up.rules_set", F403, F403, F403, F403, ROLE, F403),
    ("task.list_mine", ROLE, F403, F403, F403, F403, F403),
    ("task.overdue_team", F403, TEAM, F403, F403, F403, F403),
    ("organisation.read", F403, F403, F403, F403, ROLE, F403),
    ("organisation.manage", F403, F403, F403, F403, ROLE, F403),
    ("organisation.pick", ROLE, ROLE, F403, F403, ROLE, F403),
    ("organisation.partner_workers", ROLE, F403, F403, F403, F403, F403),
)
GLOBAL_ROLES = ("caseworker", "supervisor", "privacy_officer", "reporter", "admin", "outreach")

ORG, OTHER_ORG = "org-a", "org-b"
CASES: dict[str, CaseFacts | None] = {
    "own": CaseFacts(organisation_id=ORG, worker_id="u-1", team_id="t-1"),
    "team": CaseFacts(organisation_id=ORG, worker_id="u-2", team_id="t-1"),
    "org": CaseFacts(organisation_id=ORG, worker_id="u-3", team_id="t-2"),
    "other_org": CaseFacts(organisation_id=OTHER_ORG, worker_id="u-1", team_id="t-1"),
    "none": None,
}
CONTEXTS = {
    "plain": {"has_break_glass": False, "team_access": False},
    "team_access": {"has_break_glass": False, "team_access": True},
    "break_glass": {"has_break_glass": True, "team_access": False},
}


def principal(*roles: str, team: str = "t-1", user: str = "u-1", org: str = ORG) -> Principal:
    return Principal(
        user_id=user,
        organisation_id=org,
        roles=frozenset(roles),
        team_id=team,
        token_id=None,
        expires_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
    )


def answer(decision: Decision) -> str:
    """The table's notation for a decision."""
    if decision.allowed:
        assert decision.basis is not None
        return str(decision.basis)
    assert decision.basis is None, "a refusal carries no basis"
    return {authz.Outcome.NOT_FOUND: N404, authz.Outcome.FORBIDDEN: F403}[decision.outcome]


def cells() -> list[tuple[str, str, str, str, str]]:
    """Every cell of both tables: (action, role, context, case, expected)."""
    out = []
    for action, role, context, *expected in CASE_TABLE:
        for ctx in CONTEXTS if context == "*" else (context,):
            for case_name, want in zip(CASES, expected, strict=True):
                out.append((action, role, ctx, case_name, want))
    for action, *expected in GLOBAL_TABLE:
        for role, want in zip(GLOBAL_ROLES, expected, strict=True):
            for ctx in CONTEXTS:
                out.append((action, role, ctx, "-", want))
    return out


def actual(action: str, role: str, ctx: str, case_name: str) -> str:
    case = None if case_name == "-" else CASES[case_name]
    return answer(authorise(principal(role), action, case, **CONTEXTS[ctx]))


def mismatches() -> list[str]:
    """Every cell where the code disagrees with the table (empty when they agree)."""
    return [
        f"{action} {role} {ctx} {case}: expected {want}, got {got}"
        for action, role, ctx, case, want in cells()
        if (got := actual(action, role, ctx, case)) != want
    ]


CELLS = cells()


@pytest.mark.parametrize(
    ("action", "role", "ctx", "case_name", "expected"),
    CELLS,
    ids=["-".join(cell[:4]) for cell in CELLS],
)
def test_matrix_cell(action: str, role: str, ctx: str, case_name: str, expected: str) -> None:
    assert actual(action, role, ctx, case_name) == expected


def test_the_table_covers_every_action_role_and_context() -> None:
    covered = {(action, role, ctx) for action, role, ctx, _, _ in CELLS}
    wanted = {(action.value, role, ctx) for action in Action for role in ROLES for ctx in CONTEXTS}
    assert covered == wanted
    assert len(CELLS) == len(set((a, r, c, k) for a, r, c, k, _ in CELLS)), "a cell is listed twice"


def test_every_action_has_a_rule() -> None:
    assert authz.missing_rules() == set()
    assert set(authz.RULES) == set(Action)
    for rule in authz.RULES.values():
        assert set(rule.grants) <= ROLES, "a rule names a role that tokens never carry"


def test_control_an_action_without_a_rule_is_noticed_and_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    weakened = {
        action: rule for action, rule in authz.RULES.items() if action is not Action.CASE_ERASE
    }
    assert authz.missing_rules(weakened) == {Action.CASE_ERASE}
    monkeypatch.setattr(authz, "RULES", weakened)
    assert authz.missing_rules() == {Action.CASE_ERASE}
    assert (
        authorise(principal("privacy_officer"), Action.CASE_ERASE, CASES["own"]) == authz.FORBIDDEN
    )


def test_control_the_matrix_catches_a_weakened_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mismatches() == []
    read = authz.RULES[Action.CASE_READ]
    weakened_read = authz.Rule(read.about_a_case, {**read.grants, "admin": (authz.BY_ROLE,)})
    monkeypatch.setattr(authz, "RULES", {**authz.RULES, Action.CASE_READ: weakened_read})
    found = mismatches()
    assert "case.read admin plain own: expected 403, got role" in found
    assert all(line.startswith("case.read admin ") for line in found)
    # admins now see own-organisation cases, and other organisations' still answer 404 to them
    assert "case.read admin plain other_org: expected 403, got 404" in found


def test_control_the_matrix_catches_a_rule_that_ignores_the_organisation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def leaky(principal: Principal, action: str, case: CaseFacts | None, **kw: bool) -> Decision:
        if case is not None and case.worker_id == principal.user_id:
            return authz.allow(authz.Basis.ASSIGNMENT)  # forgets to compare organisations
        return original(principal, action, case, **kw)

    original = authz.authorise
    monkeypatch.setattr(f"{__name__}.authorise", leaky)
    assert any("other_org: expected 404, got assignment" in line for line in mismatches())


# -- organisation isolation: another organisation's case answers exactly like no case ----------

CASE_ACTIONS = [action for action in Action if authz.RULES[action].about_a_case]


def outcome_of_require(who: Principal, action: Action, case: CaseFacts | None, **kw: bool) -> tuple:
    try:
        decision = require(who, action, case, **kw)
    except AuthorisationError as exc:
        return (type(exc), exc.args, str(exc), repr(exc), exc.code)
    return ("allowed", decision)


@pytest.mark.parametrize("action", CASE_ACTIONS, ids=str)
@pytest.mark.parametrize(
    "roles",
    [
        *([role] for role in sorted(ROLES)),
        ["caseworker", "supervisor"],
        ["supervisor", "privacy_officer"],
        sorted(ROLES),
    ],
    ids="+".join,
)
@pytest.mark.parametrize("ctx", CONTEXTS)
def test_other_organisation_answers_exactly_like_a_missing_case(
    action: Action, roles: list[str], ctx: str
) -> None:
    who = principal(*roles)
    kw = CONTEXTS[ctx]
    for foreign in (
        CASES["other_org"],
        CaseFacts(organisation_id=OTHER_ORG, worker_id=None, team_id=None),
        CaseFacts(organisation_id=OTHER_ORG, worker_id="u-9", team_id="t-9"),
    ):
        assert authorise(who, action, foreign, **kw) == authorise(who, action, None, **kw)
        assert repr(authorise(who, action, foreign, **kw)) == repr(
            authorise(who, action, None, **kw)
        )
        assert outcome_of_require(who, action, foreign, **kw) == outcome_of_require(
            who, action, None, **kw
        )


def test_refusals_carry_nothing_about_the_case() -> None:
    with pytest.raises(NotFound) as not_found:
        require(principal("caseworker"), Action.CASE_READ, CASES["other_org"])
    with pytest.raises(Forbidden) as forbidden:
        require(principal("caseworker"), Action.CASE_READ, CASES["org"])
    assert str(not_found.value) == "not-found" and not_found.value.code == "not-found"
    assert str(forbidden.value) == "forbidden" and forbidden.value.code == "forbidden"


# -- edges the matrix does not show -------------------------------------------------------------


def test_require_returns_the_allowing_decision() -> None:
    decision = require(principal("caseworker"), "case.read", CASES["own"])
    assert decision.allowed and decision.basis == "assignment"


def test_callers_of_the_default_team_are_one_team() -> None:
    """A token without a team claim puts its holder on `DEFAULT_TEAM` (`principal_from_claims`);
    its cases are on that team, and the team rules hold for it as for any other team."""
    on_default = CaseFacts(organisation_id=ORG, worker_id="u-2", team_id=DEFAULT_TEAM)
    worker, supervisor = (
        principal("caseworker", team=DEFAULT_TEAM),
        principal("supervisor", team=DEFAULT_TEAM),
    )
    assert answer(authorise(worker, Action.CASE_READ, on_default, team_access=True)) == TEAM
    assert answer(authorise(worker, Action.CASE_READ, on_default)) == F403  # team access off
    assert answer(authorise(supervisor, Action.CASE_ASSIGN, on_default)) == TEAM
    assert (
        answer(authorise(supervisor, Action.CASE_READ, on_default, has_break_glass=True)) == GLASS
    )
    assert answer(authorise(supervisor, Action.CASELOAD_TEAM, None)) == TEAM
    # control: the default team is a team like any other, not a wildcard
    for elsewhere in (principal("caseworker", team="t-2"), principal("supervisor", team="t-2")):
        assert (
            answer(
                authorise(
                    elsewhere, Action.CASE_READ, on_default, team_access=True, has_break_glass=True
                )
            )
            == F403
        )
        assert answer(authorise(elsewhere, Action.CASE_ASSIGN, on_default)) == F403
    assert (
        answer(
            authorise(
                principal("caseworker", team=DEFAULT_TEAM),
                Action.CASE_READ,
                CASES["team"],
                team_access=True,
            )
        )
        == F403
    )


def test_a_case_without_a_team_is_on_no_caller_s_team() -> None:
    """Cases always have a team (intake and assignment refuse an empty one); should one ever
    be folded without, no caller's team matches it, the default team's included."""
    teamless = CaseFacts(organisation_id=ORG, worker_id="u-2", team_id=None)
    for team in ("t-1", DEFAULT_TEAM):
        assert (
            answer(
                authorise(
                    principal("caseworker", team=team), Action.CASE_READ, teamless, team_access=True
                )
            )
            == F403
        )
        assert (
            answer(authorise(principal("supervisor", team=team), Action.CASE_ASSIGN, teamless))
            == F403
        )
        assert (
            answer(
                authorise(
                    principal("supervisor", team=team),
                    Action.CASE_READ,
                    teamless,
                    has_break_glass=True,
                )
            )
            == F403
        )


def test_an_unassigned_case_is_nobody_s_assignment() -> None:
    unassigned = CaseFacts(organisation_id=ORG, worker_id=None, team_id="t-2")
    assert answer(authorise(principal("caseworker"), Action.CASE_READ, unassigned)) == F403


def test_several_roles_get_the_union_with_the_strongest_basis() -> None:
    both = principal("caseworker", "supervisor")
    assert answer(authorise(both, Action.CASE_READ, CASES["own"], has_break_glass=True)) == ASSIGN
    assert answer(authorise(both, Action.CASE_READ, CASES["team"], has_break_glass=True)) == GLASS
    assert answer(authorise(both, Action.CASE_ASSIGN, CASES["team"])) == TEAM
    officer_worker = principal("caseworker", "privacy_officer")
    assert answer(authorise(officer_worker, Action.CASE_ACCESS_LOG, CASES["org"])) == PRIVACY
    assert answer(authorise(officer_worker, Action.CASE_READ, CASES["org"])) == F403
    assert answer(authorise(principal("reporter", "admin"), Action.CASE_READ, None)) == F403


def test_an_action_not_about_a_case_refuses_a_case_argument() -> None:
    with pytest.raises(ValueError, match="not about a case"):
        authorise(principal("caseworker"), Action.CASE_OPEN, CASES["own"])


def test_an_unknown_action_name_is_an_error() -> None:
    with pytest.raises(ValueError):
        authorise(principal("caseworker"), "case.delete_everything", None)


def test_case_facts_of_a_folded_state() -> None:
    assert CaseFacts.of(CaseState()) is None
    state = CaseState(version=3, case_id="c-1", organisation_id=ORG, worker_id="u-1", team_id="t-1")
    assert CaseFacts.of(state) == CASES["own"]


# -- the same table over HTTP: every case endpoint names its action, and answers by it ----------
#
# Each case endpoint of the app, by hand, with the action whose row of CASE_TABLE it must follow.
# A route the app serves and this table does not list fails `test_every_case_endpoint_is_listed`.

ENDPOINT_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", "/v1/cases/{case_id}"): "case.read",
    ("GET", "/v1/cases/{case_id}/history"): "case.history",
    ("GET", "/v1/cases/{case_id}/access-log"): "case.access_log",
    ("DELETE", "/v1/cases/{case_id}"): "case.erase",
    ("GET", "/v1/cases/{case_id}/export"): "case.export",
    ("POST", "/v1/cases/{case_id}/services"): "case.command",
    ("POST", "/v1/cases/{case_id}/consents"): "case.command",
    ("POST", "/v1/cases/{case_id}/consents/{consent_id}/revocation"): "case.command",
    ("POST", "/v1/cases/{case_id}/referrals"): "case.command",
    ("POST", "/v1/cases/{case_id}/referrals/{referral_id}/status"): "case.command",
    ("POST", "/v1/cases/{case_id}/outcomes"): "case.command",
    ("POST", "/v1/cases/{case_id}/immigration"): "case.immigration",
    ("POST", "/v1/cases/{case_id}/closure"): "case.close",
    ("POST", "/v1/cases/{case_id}/reopening"): "case.close",
    ("POST", "/v1/cases/{case_id}/assignment"): "case.assign",
    ("POST", "/v1/cases/{case_id}/break-glass"): "case.break_glass",
    ("POST", "/v1/cases/{case_id}/victim-status"): "case.command",
    ("POST", "/v1/cases/{case_id}/trafficking-context"): "case.command",
    ("POST", "/v1/cases/{case_id}/needs"): "case.command",
    ("POST", "/v1/cases/{case_id}/goals"): "case.command",
    ("POST", "/v1/cases/{case_id}/goals/{goal_id}/status"): "case.command",
    ("POST", "/v1/cases/{case_id}/statistics-consent"): "case.command",
    ("POST", "/v1/cases/{case_id}/transfer"): "case.transfer",
}

# The endpoints exercised over HTTP: the commands of `case_command_routes`, the reads (whose
# answer team access changes), and one earlier command as a control. Commands are sent with a
# valid body and *without* If-Match: an authorised caller gets 428 (authorisation is decided
# first), a refused one 403 or 404, and nothing is ever appended.
HTTP_ENDPOINTS: dict[tuple[str, str], dict[str, Any] | None] = {
    ("GET", "/v1/cases/{case_id}"): None,
    ("GET", "/v1/cases/{case_id}/history"): None,
    ("POST", "/v1/cases/{case_id}/services"): schemas.RECORD_SERVICE_EXAMPLE,
    ("POST", "/v1/cases/{case_id}/victim-status"): schemas.VICTIM_STATUS_EXAMPLE,
    ("POST", "/v1/cases/{case_id}/trafficking-context"): schemas.TRAFFICKING_CONTEXT_EXAMPLE,
    ("POST", "/v1/cases/{case_id}/needs"): schemas.ASSESS_NEEDS_EXAMPLE,
    ("POST", "/v1/cases/{case_id}/goals"): schemas.SET_GOAL_EXAMPLE,
    ("POST", "/v1/cases/{case_id}/goals/{goal_id}/status"): schemas.CHANGE_GOAL_STATUS_EXAMPLE,
    ("POST", "/v1/cases/{case_id}/statistics-consent"): schemas.STATISTICS_CONSENT_EXAMPLE,
    ("POST", "/v1/cases/{case_id}/transfer"): schemas.TRANSFER_CASE_EXAMPLE,
}
# The organisation setting HAVEN_TEAM_ACCESS as each context of the table sees it; "other_listed"
# names only another organisation, which must change nothing for the caller's.
TEAM_ACCESS_SETTINGS = {
    "plain": frozenset(),
    "team_access": frozenset({ORG}),
    "other_listed": frozenset({OTHER_ORG}),
}
TABLE_CONTEXT = {"plain": "plain", "team_access": "team_access", "other_listed": "plain"}
HTTP_STATUS = {
    ASSIGN: 428,
    TEAM: 428,
    N404: 404,
    F403: 403,
}  # commands; reads answer 200 when allowed


def expected_cell(action: str, role: str, ctx: str, case_name: str) -> str:
    """The literal CASE_TABLE's answer (not RULES)."""
    for row_action, row_role, context, *expected in CASE_TABLE:
        if (row_action, row_role) == (action, role) and context in (ctx, "*"):
            return dict(zip(CASES, expected, strict=True))[case_name]
    raise AssertionError(f"no row for {action} {role} {ctx}")


def test_every_case_endpoint_is_listed() -> None:
    from services.api.app import create_app
    from services.settings import Settings

    app = create_app(runtime=None, verifier=None, settings=Settings.from_environ({}))  # type: ignore[arg-type]
    served = {
        (method.upper(), path)
        for path, item in app.openapi_schema.to_schema()["paths"].items()
        for method in item
        if "{case_id}" in path
    }
    assert served == set(ENDPOINT_ACTIONS)
    assert set(HTTP_ENDPOINTS) <= set(ENDPOINT_ACTIONS)
    assert {action for action in ENDPOINT_ACTIONS.values()} == {a.value for a in CASE_ACTIONS} - {
        "case.read_immigration",  # a part of the read, not an endpoint
        "transfer.answer",
        "task.update",  # about a task id (tests/api/test_task_routes.py)
        "inbox.read",  # about an inbox item (tests/api/test_referral_inbox.py)
        "inbox.answer",
    }  # about an incoming transfer, not a case id (tests/api/test_transfer_requests.py)


@pytest.fixture
async def matrix_cases(make_app: Any, issuer: LocalIssuer) -> dict[str, str]:
    """The cases of CASES, opened for real: name -> case id ("none": an id nobody has)."""
    opened = {"none": str(uuid.uuid4())}
    async with api_client(make_app(), lifespan=False) as client:
        for name, facts in CASES.items():
            if facts is None:
                continue
            token = issuer.mint(
                facts.worker_id, facts.organisation_id, ["caseworker"], team=facts.team_id
            )
            response = await client.post(
                "/v1/cases", json=OPEN_CASE_EXAMPLE, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 201, response.text
            opened[name] = response.json()["case_id"]
    return opened


@pytest.mark.parametrize("setting", TEAM_ACCESS_SETTINGS)
@pytest.mark.parametrize(("method", "path"), HTTP_ENDPOINTS, ids=lambda v: v)
async def test_the_endpoint_answers_as_the_table_says(
    make_app: Any,
    settings: Settings,
    issuer: LocalIssuer,
    runtime: Runtime,
    matrix_cases: dict[str, str],
    method: str,
    path: str,
    setting: str,
) -> None:
    action = ENDPOINT_ACTIONS[(method, path)]
    body = HTTP_ENDPOINTS[(method, path)]
    app = make_app(
        settings=msgspec.structs.replace(settings, team_access=TEAM_ACCESS_SETTINGS[setting])
    )
    wrong = []
    async with api_client(app, lifespan=False) as client:
        for role in sorted(ROLES):
            token = issuer.mint("u-1", ORG, [role], team="t-1")
            for case_name, case_id in matrix_cases.items():
                want = expected_cell(action, role, TABLE_CONTEXT[setting], case_name)
                url = path.format(case_id=case_id, goal_id="goal-0001")
                response = await client.request(
                    method, url, json=body, headers={"Authorization": f"Bearer {token}"}
                )
                status = 200 if method == "GET" and want in (ASSIGN, TEAM) else HTTP_STATUS[want]
                if response.status_code != status:
                    wrong.append(
                        f"{role} {case_name}: expected {status} ({want}), "
                        f"got {response.status_code}"
                    )
    assert wrong == []
    for (
        case_name,
        case_id,
    ) in matrix_cases.items():  # refused or stopped at If-Match: nothing appended
        facts = CASES[case_name]
        if facts is not None:
            assert (
                await runtime.store.stream_version(facts.organisation_id, uuid.UUID(case_id)) == 1
            )


async def test_control_the_http_matrix_sees_a_route_that_ignores_team_access(
    make_app: Any,
    settings: Settings,
    issuer: LocalIssuer,
    matrix_cases: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The HTTP matrix can fail: with the setting ignored, the team's case is refused."""
    from services.api.cases import http

    monkeypatch.setattr(http, "team_access", lambda request: False)
    app = make_app(settings=msgspec.structs.replace(settings, team_access=frozenset({ORG})))
    token = issuer.mint("u-1", ORG, ["caseworker"], team="t-1")
    async with api_client(app, lifespan=False) as client:
        response = await client.post(
            f"/v1/cases/{matrix_cases['team']}/needs",
            json=schemas.ASSESS_NEEDS_EXAMPLE,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 403
    assert (
        expected_cell("case.command", "caseworker", "team_access", "team") == TEAM
    )  # the table says 428
