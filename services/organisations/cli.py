"""`haven organisation ...`: an organisation's profile, teams, partners and workers from the
command line, through the same use cases as the API (`services.organisations.command`),
acting on the version just read.

    haven organisation show --org O
    haven organisation set-profile --org O --by WHO --name N [--description D] [--state IL]
    haven organisation teams add ID --name N --org O --by WHO       (also: rename)
    haven organisation teams deactivate ID --org O --by WHO
    haven organisation partners add ID --name N --direction both --org O --by WHO
    haven organisation partners deactivate ID --org O --by WHO
    haven organisation workers add ID --name N --team T --org O --by WHO
    haven organisation workers deactivate ID --org O --by WHO

A refusal prints each member at fault with its rule (never its value) and exits 2.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

import msgspec

from domain.identifiers import is_identifier
from domain.organisation.events import DIRECTIONS, Organisation, Partner, Profile, Team, Worker
from events.errors import ConcurrencyConflict
from events.store import PostgresEventStore
from services.bootstrap import runtime
from services.commands.ports import Actor
from services.commands.refusals import InvalidRequest
from services.organisations import command
from services.organisations.command import CURRENT
from services.settings import Settings

KINDS = ("teams", "partners", "workers")


def add_organisation_command(commands: Any) -> None:
    """`haven organisation ...` on the `haven` parser's subcommands."""
    parser = commands.add_parser(
        "organisation", help="an organisation's profile, teams, partners and workers"
    )
    sub = parser.add_subparsers(dest="organisation_command", required=True)
    show = sub.add_parser("show", help="print the organisation as JSON")
    show.add_argument("--org", required=True, metavar="O", help="the organisation")
    profile = sub.add_parser("set-profile", help="set the organisation's profile")
    _who(profile)
    profile.add_argument("--name", required=True, help="the display name")
    profile.add_argument("--description", default="", help="what it does (no contact details)")
    profile.add_argument("--state", help="the USPS code of the state it serves (IL)")
    for kind in KINDS:
        entries = sub.add_parser(kind, help=f"add, change or deactivate {kind}")
        actions = entries.add_subparsers(dest="entry_command", required=True)
        add = actions.add_parser("add", help=f"add or change one of the {kind} (active)")
        add.add_argument("entry_id", metavar="ID")
        add.add_argument("--name", required=True, help="its display name")
        if kind == "partners":
            add.add_argument("--direction", required=True, choices=DIRECTIONS)
        if kind == "workers":
            add.add_argument("--team", required=True, metavar="TEAM", help="the worker's team id")
        _who(add)
        deactivate = actions.add_parser("deactivate", help=f"deactivate one of the {kind}")
        deactivate.add_argument("entry_id", metavar="ID")
        _who(deactivate)


def _who(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--org", required=True, metavar="O", help="the organisation")
    parser.add_argument("--by", required=True, metavar="WHO", help="who changes it (recorded)")


async def run_organisation_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    for value in (args.org, getattr(args, "by", None), getattr(args, "entry_id", None)):
        if value is not None and not is_identifier(value):
            print("haven organisation: --org, --by and ID must be identifiers", file=sys.stderr)
            return 2
    async with runtime(settings, url) as rt:
        if args.organisation_command == "show":
            organisation = await command.read_organisation(rt.store, args.org)
            sys.stdout.write(msgspec.json.encode(shown(args.org, organisation)).decode() + "\n")
            return 0
        try:
            version = await _change(rt.store, Actor(args.by, args.org), args)
        except InvalidRequest as refused:
            for pointer, rule in refused.faults:
                print(f"haven organisation: {pointer or '/'} {rule}", file=sys.stderr)
            return 2
        except ConcurrencyConflict:
            print("haven organisation: changed meanwhile; run the command again", file=sys.stderr)
            return 1
        except LookupError:
            print(f"haven organisation: no such entry among the {args.organisation_command}",
                  file=sys.stderr)  # fmt: skip
            return 2
    print(f"haven organisation: recorded (version {version})")
    return 0


async def _change(store: PostgresEventStore, actor: Actor, args: argparse.Namespace) -> int:
    if args.organisation_command == "set-profile":
        profile = Profile(display_name=args.name, description=args.description, state=args.state)
        return await command.set_profile(store, actor, CURRENT, profile)
    kind, entry_id, adding = args.organisation_command, args.entry_id, args.entry_command == "add"
    current = await command.read_organisation(store, actor.organisation_id)
    if kind == "teams":
        team = Team(team_id=entry_id, name=args.name) if adding else _off(current.teams, entry_id)
        return await command.set_team(store, actor, CURRENT, team)
    if kind == "partners":
        partner = (
            Partner(partner_id=entry_id, display_name=args.name, direction=args.direction)
            if adding
            else _off(current.partners, entry_id)
        )
        return await command.set_partner(store, actor, CURRENT, partner)
    worker = (
        Worker(worker_id=entry_id, display_name=args.name, team_id=args.team)
        if adding
        else _off(current.workers, entry_id)
    )
    return await command.set_worker(store, actor, CURRENT, worker)


def _off(entries: Any, entry_id: str) -> Any:
    """The entry `entry_id`, deactivated (`LookupError` when there is none)."""
    return msgspec.structs.replace(entries[entry_id], active=False)


def shown(organisation_id: str, organisation: Organisation) -> dict[str, Any]:
    return {
        "organisation_id": organisation_id,
        "version": organisation.version,
        "profile": organisation.profile,
        "teams": sorted(organisation.teams.values(), key=lambda t: t.team_id),
        "partners": sorted(organisation.partners.values(), key=lambda p: p.partner_id),
        "workers": sorted(organisation.workers.values(), key=lambda w: w.worker_id),
    }
