"""An organisation's follow-up rules: pure rules, no I/O.

Four kinds of follow-up, each with a number of days and a switch:

* ``referral_overdue``: a referral waiting for an answer for longer than `days`;
* ``no_contact``: no logged contact with the client for longer than `days`;
* ``consent_expiring``: a consent to release information expires within `days`;
* ``immigration_deadline``: an immigration milestone's deadline falls within `days`.

An organisation that never set its rules follows `DEFAULT_RULES`, the thresholds the caseload
flags have always used. The rules are recorded as `FollowUpRulesSet` events (who set them and
the whole set each time), never anything about a survivor.
"""

from __future__ import annotations

import enum

import msgspec

from domain.event import DomainEvent
from domain.identifiers import is_identifier


class FollowUpKind(enum.StrEnum):
    REFERRAL_OVERDUE = "referral_overdue"
    NO_CONTACT = "no_contact"
    CONSENT_EXPIRING = "consent_expiring"
    IMMIGRATION_DEADLINE = "immigration_deadline"


KINDS: tuple[FollowUpKind, ...] = tuple(FollowUpKind)
MIN_DAYS = 1
MAX_DAYS = 366


class FollowUpRule(msgspec.Struct, frozen=True, kw_only=True):
    kind: FollowUpKind
    enabled: bool
    days: int


class FollowUpRules(msgspec.Struct, frozen=True, kw_only=True):
    """One rule per kind, in `KINDS` order."""

    rules: tuple[FollowUpRule, ...]

    def rule(self, kind: FollowUpKind) -> FollowUpRule:
        return next(r for r in self.rules if r.kind == kind)

    def days(self, kind: FollowUpKind) -> int:
        return self.rule(kind).days


DEFAULT_RULES = FollowUpRules(
    rules=(
        FollowUpRule(kind=FollowUpKind.REFERRAL_OVERDUE, enabled=True, days=14),
        FollowUpRule(kind=FollowUpKind.NO_CONTACT, enabled=True, days=30),
        FollowUpRule(kind=FollowUpKind.CONSENT_EXPIRING, enabled=True, days=30),
        FollowUpRule(kind=FollowUpKind.IMMIGRATION_DEADLINE, enabled=True, days=30),
    )
)


class FollowUpRulesSet(DomainEvent, frozen=True, kw_only=True, tag="follow_up.rules_set"):
    """An administrator set the organisation's follow-up rules (the whole set)."""

    organisation_id: str
    rules: tuple[FollowUpRule, ...]
    set_by: str


FOLLOW_UP_EVENTS: tuple[type[DomainEvent], ...] = (FollowUpRulesSet,)


def rules_faults(rules: tuple[FollowUpRule, ...], set_by: object) -> list[tuple[str, str]]:
    """(field, rule) for each value that may not be set (empty: the set may be recorded).
    Every kind exactly once, days within bounds. Names fields and bounds, never values."""
    faults = []
    kinds = [rule.kind for rule in rules]
    if sorted(kinds) != sorted(KINDS):
        faults.append(("rules", f"rules must name each kind once: {', '.join(KINDS)}"))
    for index, rule in enumerate(rules):
        if (
            not isinstance(rule.days, int)
            or isinstance(rule.days, bool)
            or not MIN_DAYS <= rule.days <= MAX_DAYS
        ):
            faults.append(
                (
                    f"rules/{index}/days",
                    f"days must be a whole number from {MIN_DAYS} to {MAX_DAYS}",
                )
            )
    if not is_identifier(set_by):
        faults.append(("set_by", "set_by must be an identifier"))
    return faults


def in_kind_order(rules: tuple[FollowUpRule, ...]) -> FollowUpRules:
    return FollowUpRules(rules=tuple(sorted(rules, key=lambda r: KINDS.index(r.kind))))


def rules_after(events: list[FollowUpRulesSet]) -> FollowUpRules:
    """The rules in force after the organisation's rule events, in order."""
    return in_kind_order(events[-1].rules) if events else DEFAULT_RULES
