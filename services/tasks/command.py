"""`haven follow-up-rules show|set`: an organisation's follow-up rules, as an administrator
reads and sets them (`services.tasks.rules`). `set` starts from the rules in force and
changes only what it names; what is printed is kinds, switches and days, never a case."""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from domain.tasks.rules import KINDS, MAX_DAYS, MIN_DAYS, FollowUpKind
from events.errors import ConcurrencyConflict
from services.bootstrap import runtime
from services.settings import Settings
from services.tasks.rules import FollowUpRulesRecord, RulesRefused, current_rules, set_rules


def _option(kind: FollowUpKind) -> str:
    return kind.value.replace("_", "-")


def add_follow_up_rules_command(commands: Any) -> None:
    """`haven follow-up-rules ...` on the `haven` parser's subcommands."""
    rules = commands.add_parser(
        "follow-up-rules", help="an organisation's follow-up rules (the tasks they make)"
    )
    rules_commands = rules.add_subparsers(dest="rules_command", required=True)
    show = rules_commands.add_parser("show", help="print the rules in force")
    rules_set = rules_commands.add_parser(
        "set", help="change the rules named; the others stay as they are"
    )
    for kind in KINDS:
        rules_set.add_argument(
            f"--{_option(kind)}-days",
            type=int,
            metavar="N",
            help=f"days of the {kind.value} rule ({MIN_DAYS} to {MAX_DAYS})",
        )
    choices = [_option(kind) for kind in KINDS]
    rules_set.add_argument(
        "--enable", action="append", default=[], choices=choices, help="switch a rule on"
    )
    rules_set.add_argument(
        "--disable", action="append", default=[], choices=choices, help="switch a rule off"
    )
    rules_set.add_argument(
        "--by", required=True, metavar="WHO", help="who sets them (recorded with the change)"
    )
    for parser in (show, rules_set):
        parser.add_argument("--org", required=True, metavar="O", help="the organisation")


async def run_follow_up_rules_command(
    settings: Settings, url: str, args: argparse.Namespace
) -> int:
    async with runtime(settings, url) as rt:
        try:
            record = await current_rules(rt.store, args.org)
            if args.rules_command == "set":
                changed = tuple(
                    msgspec.structs.replace(
                        rule,
                        days=_given(getattr(args, f"{rule.kind.value}_days"), rule.days),
                        enabled=(
                            True
                            if _option(rule.kind) in args.enable
                            else False
                            if _option(rule.kind) in args.disable
                            else rule.enabled
                        ),
                    )
                    for rule in record.rules.rules
                )
                record = await set_rules(rt.store, args.org, changed, args.by)
        except RulesRefused as refused:
            print(f"haven follow-up-rules: {refused}", file=sys.stderr)
            return 2
        except ConcurrencyConflict:
            print("haven follow-up-rules: the rules changed meanwhile; try again", file=sys.stderr)
            return 1
    _print_rules(record)
    return 0


def _given(value: int | None, otherwise: int) -> int:
    return otherwise if value is None else value


def _print_rules(record: FollowUpRulesRecord) -> None:
    print(f"{'organisation':22s} {record.organisation_id}")
    for rule in record.rules.rules:
        state = "on " if rule.enabled else "off"
        print(f"{rule.kind.value:22s} {state} {rule.days} days")
    if record.set_by is not None and record.set_at is not None:
        print(f"{'set_by':22s} {record.set_by} at {record.set_at.isoformat()}")
    else:
        print(f"{'set_by':22s} nobody (the defaults)")
