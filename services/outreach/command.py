"""`haven activities summary --org O --from D --to D [--json]`: an organisation's outreach,
training and technical-assistance activities, participants and hours by month and kind, and
by month, kind and sector, from the `activities` read model (coded facts and counts only)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

import msgspec

from domain.identifiers import is_identifier
from projections.activities import ActivitySummary, SummaryRow, activity_summary
from projections.queries import ViewNotBuilt
from services.bootstrap import runtime
from services.settings import Settings

MAX_DAYS = 3660


def _day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError("a day is written YYYY-MM-DD") from None


def add_activities_command(commands: Any) -> None:
    """`haven activities ...` on the `haven` parser's subcommands."""
    activities = commands.add_parser(
        "activities", help="outreach, training and technical-assistance activities"
    )
    activity_commands = activities.add_subparsers(dest="activities_command", required=True)
    summary = activity_commands.add_parser(
        "summary",
        help="activities, participants and hours by month, kind and sector (counts only)",
    )
    summary.add_argument("--org", required=True, metavar="O", help="the organisation")
    summary.add_argument("--from", dest="first", required=True, type=_day, metavar="D")
    summary.add_argument("--to", dest="last", required=True, type=_day, metavar="D")
    summary.add_argument("--json", action="store_true", help="print JSON")


def _refusal(args: argparse.Namespace) -> str | None:
    if not is_identifier(args.org):
        return "--org must be an organisation id"
    if args.first > args.last:
        return "--to must not be before --from"
    if (args.last - args.first).days > MAX_DAYS:
        return f"--to must be at most {MAX_DAYS} days after --from"
    return None


async def run_activities_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    refusal = _refusal(args)
    if refusal is not None:
        print(f"haven activities: {refusal}", file=sys.stderr)
        return 2
    async with runtime(settings, url) as rt:
        try:
            summary = await activity_summary(rt.pool, args.org, args.first, args.last)
        except ViewNotBuilt:
            print(
                "haven activities: the activities read model is not built yet (run the worker)",
                file=sys.stderr,
            )
            return 1
    if args.json:
        print(msgspec.json.encode(summary).decode())
    else:
        _print_table(summary, args.first, args.last)
    return 0


def _row(row: SummaryRow) -> str:
    return (
        f"{row.month:8s} {row.kind:21s} {row.sector or 'all sectors':24s} "
        f"{row.activities:>10d} {row.participants:>12d} {row.hours:>9.2f}"
    )


def _print_table(summary: ActivitySummary, first: dt.date, last: dt.date) -> None:
    print(
        f"{'month':8s} {'kind':21s} {'sector':24s} {'activities':>10s} {'participants':>12s} "
        f"{'hours':>9s}"
    )
    by_sector: dict[tuple[str, str], list[SummaryRow]] = {}
    for row in summary.by_month_kind_and_sector:
        by_sector.setdefault((row.month, row.kind), []).append(row)
    for row in summary.by_month_and_kind:
        print(_row(row))
        for sector_row in by_sector.get((row.month, row.kind), []):
            print(_row(sector_row))
    print(
        f"haven activities: {summary.activities} activities, {summary.participants} "
        f"participants, {summary.hours:g} hours from {first} to {last}"
    )
