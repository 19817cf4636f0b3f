"""`haven token`: mint a bearer token from the local issuer.

For development, demos and scripts against a deployment that has no external identity
provider. The token alone goes to standard output (``TOKEN=$(haven token ...)``), every
message to standard error. When ``HAVEN_OIDC_*`` is configured the command refuses (exit 2):
tokens then come from the provider, and a locally minted one would not be accepted anyway.

The main `haven` parser calls `add_token_command(subparsers)` and dispatches to
`run_token_command(settings, args)`; the command needs no database. ``python -m
services.identity.cli token ...`` runs it on its own.
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import sys
from collections.abc import Sequence

from crypto.signing import SigningKeyError
from services.identity.claims import DEFAULT_TEAM, ROLES
from services.identity.local_issuer import DEFAULT_TTL, MAX_TTL, LocalIssuer
from services.settings import Settings, SettingsError

_TTL = re.compile(r"([0-9]{1,6})([smhd])")
_UNIT = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_ttl(text: str) -> dt.timedelta:
    """``90s``, ``30m``, ``8h`` or ``1d``: more than zero, at most 24 hours."""
    match = _TTL.fullmatch(text.strip())
    if match is None:
        raise argparse.ArgumentTypeError("use a number and a unit: 90s, 30m, 8h or 1d")
    ttl = dt.timedelta(**{_UNIT[match[2]]: int(match[1])})
    if not dt.timedelta(0) < ttl <= MAX_TTL:
        raise argparse.ArgumentTypeError("must be more than zero and at most 24h")
    return ttl


def add_token_command(
    subparsers: argparse._SubParsersAction[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    token: argparse.ArgumentParser = subparsers.add_parser(
        "token", help="mint a bearer token from the local issuer (refused when HAVEN_OIDC_* is set)"
    )
    token.add_argument("--user", required=True, help="user id (the token's subject)")
    token.add_argument("--org", required=True, help="organisation id")
    token.add_argument(
        "--role",
        required=True,
        action="append",
        dest="roles",
        choices=sorted(ROLES),
        help="a role; repeat for several",
    )
    token.add_argument(
        "--team", help=f"team id (without it, the organisation's default team, {DEFAULT_TEAM!r})"
    )
    token.add_argument(
        "--ttl", type=parse_ttl, default=DEFAULT_TTL, help="lifetime, e.g. 30m, 8h, 1d (default 8h)"
    )
    return token


def run_token_command(settings: Settings, args: argparse.Namespace) -> int:
    if settings.oidc_issuer:
        print(
            "haven: an external identity provider is configured (HAVEN_OIDC_ISSUER); "
            "get tokens from it, not from haven token",
            file=sys.stderr,
        )
        return 2
    try:
        token = LocalIssuer.open(settings.data_dir).mint(
            args.user, args.org, args.roles, args.team, args.ttl
        )
    except ValueError as error:
        print(f"haven: {error}", file=sys.stderr)
        return 2
    except SigningKeyError as error:
        print(f"haven: {error}", file=sys.stderr)
        return 1
    print(token)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="haven")
    add_token_command(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_environ()
    except SettingsError as error:
        print(f"haven: {error}", file=sys.stderr)
        return 2
    return run_token_command(settings, args)


if __name__ == "__main__":
    sys.exit(main())
