"""`haven retention policy show|set|withdraw` and `haven retention run`: an organisation's
retention policy, as an administrator reads and sets it, and its application (ids and closure
dates only are printed, never a case's content)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from domain.retention import MIN_ERASE_AFTER_DAYS
from events.errors import ConcurrencyConflict
from projections.queries import ViewNotBuilt
from services.bootstrap import Runtime, runtime
from services.retention.policy import (
    PolicyRefused,
    RetentionPolicyRecord,
    current_policy,
    set_policy,
)
from services.retention.run import run_retention
from services.settings import Settings


def add_retention_command(commands: Any) -> None:
    """`haven retention ...` on the `haven` parser's subcommands."""
    retention = commands.add_parser(
        "retention", help="each organisation's retention policy for closed cases, and its run"
    )
    retention_commands = retention.add_subparsers(dest="retention_command", required=True)
    policy = retention_commands.add_parser("policy", help="an organisation's retention policy")
    policy_commands = policy.add_subparsers(dest="policy_command", required=True)
    show = policy_commands.add_parser("show", help="print the policy in force")
    policy_set = policy_commands.add_parser(
        "set", help="erase each closed case this many days after its closure; open cases stay"
    )
    policy_set.add_argument(
        "--erase-after-days",
        type=int,
        required=True,
        metavar="N",
        help=f"days after closure ({MIN_ERASE_AFTER_DAYS} at least)",
    )
    withdraw = policy_commands.add_parser("withdraw", help="withdraw the policy: keep every case")
    for parser in (show, policy_set, withdraw):
        parser.add_argument("--org", required=True, metavar="O", help="the organisation")
    for parser in (policy_set, withdraw):
        parser.add_argument(
            "--by", required=True, metavar="WHO", help="who sets it (recorded with the change)"
        )
    run = retention_commands.add_parser(
        "run",
        help="erase the closed cases past their organisation's policy (ids and closure dates "
        "printed, never content)",
    )
    run.add_argument("--org", metavar="O", help="one organisation (default: every one)")
    run.add_argument("--dry-run", action="store_true", help="list them; erase nothing")


async def run_retention_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    async with runtime(settings, url) as rt:
        try:
            if args.retention_command == "run":
                return await _run(rt, args)
            if args.policy_command == "show":
                record = await current_policy(rt.store, args.org)
            else:
                days = args.erase_after_days if args.policy_command == "set" else None
                record = await set_policy(rt.store, args.org, days, args.by)
        except PolicyRefused as refused:
            print(f"haven retention: {refused}", file=sys.stderr)
            return 2
        except ConcurrencyConflict:
            print("haven retention: the policy changed meanwhile; try again", file=sys.stderr)
            return 1
    _print_policy(record)
    return 0


def _print_policy(record: RetentionPolicyRecord) -> None:
    print(f"{'organisation':18s} {record.organisation_id}")
    days = record.policy.erase_after_days if record.policy else None
    print(f"{'erase_after_days':18s} {days if days is not None else 'none (keep everything)'}")
    if record.set_by is not None and record.set_at is not None:
        print(f"{'set_by':18s} {record.set_by} at {record.set_at.isoformat()}")


async def _run(rt: Runtime, args: argparse.Namespace) -> int:
    today = dt.datetime.now(dt.UTC).date()
    try:
        outcomes = await run_retention(rt, today, organisation_id=args.org, dry_run=args.dry_run)
    except ViewNotBuilt:
        print("haven retention: the caseload is not built yet (run the worker)", file=sys.stderr)
        return 1
    status = {None: "due", True: "erased", False: "kept (changed since listed)"}
    for outcome in outcomes:
        case = outcome.case
        print(
            f"{case.organisation_id} {case.case_id} closed {case.closed_on.isoformat()} "
            f"{status[outcome.erased]}"
        )
    erased = sum(o.erased is True for o in outcomes)
    what = "dry run, nothing erased" if args.dry_run else f"{erased} erased"
    print(f"haven retention: {len(outcomes)} cases past their policy on {today}; {what}")
    return 0
