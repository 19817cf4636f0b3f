"""`haven serve` and `haven demo`: the API under granian, and synthetic cases to try it with."""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import os
import shutil
import sys
from pathlib import Path

from services.settings import Settings


async def _seed(rt, cases: int, seed: int, bulk: bool = False) -> None:
    import datetime as dt

    from services.demo.bulk import write_plan
    from services.demo.generator import demo_plan
    from services.demo.identification import identification_plan, seed_identification
    from services.demo.seeding import demo_use_cases, execute_plan

    if await rt.pool.fetchval("SELECT EXISTS (SELECT 1 FROM haven.streams)"):
        print(
            "haven: the database already holds cases; demo data is seeded only into an empty one."
        )
        return
    today = dt.date.today()
    plan = demo_plan(seed=seed, cases=cases, today=today)
    if bulk:  # the same plan's streams and events, many cases a transaction
        await write_plan(rt.store, plan)
    else:
        await execute_plan(demo_use_cases(rt.store, today), plan)
    summary = plan.summary
    print(
        f"haven: seeded {summary.cases} synthetic cases ({summary.events} events) across "
        f"{len(summary.organisations)} organisations: {', '.join(summary.organisations)}."
    )
    identification = identification_plan(plan)  # through the use cases, on either path
    await seed_identification(rt, identification)
    for line in identification.lines():
        print(f"haven: seeded {line}.")
    from services.demo.directory import seed_directory

    listed = await seed_directory(rt.store, summary.organisations, seed=seed)
    print(f"haven: listed {listed} synthetic services in the service directory.")
    from services.demo.organisation_profiles import seed_organisations

    known = await seed_organisations(rt.store, summary.organisations)
    print(f"haven: recorded the organisations' profiles, teams and {known} workers.")
    from services.demo.partner_referral import seed_partner_referral

    referred = await seed_partner_referral(rt.store, plan, rt.referral_answer_days)
    if referred is not None:
        print(
            f"haven: {referred.sender} sent a referral to its partner {referred.recipient}: "
            "it waits in that organisation's inbox."
        )


async def run_demo_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    """`haven demo`: seed synthetic cases into an empty database."""
    from services.bootstrap import runtime

    if args.cases < 1:
        print("haven: --cases must be at least 1", file=sys.stderr)
        return 2
    async with runtime(settings, url) as rt:
        await _seed(rt, args.cases, args.seed, args.bulk)
    return 0


async def _prepare_to_serve(settings: Settings, url: str, demo: bool) -> None:
    from events.key_check import refuse_mismatched
    from services.bootstrap import runtime
    from services.restore_check import check_erasures

    async with runtime(settings, url) as rt:
        checked = await check_erasures(rt)  # a restored database: corrected before it serves
        for line in checked.lines():
            print(f"haven: {line}")
        refuse_mismatched(rt.key_mismatches)
        where = (
            "embedded PostgreSQL"
            if settings.embedded_database
            else "PostgreSQL at HAVEN_DATABASE_URL"
        )
        print(f"haven: database ready ({where}), schema migrated, key provider open.")
        if demo:
            await _seed(rt, 60, 7)


def _print_demo_tokens(settings: Settings, base_url: str) -> None:
    from services.demo.organisations import demo_accounts
    from services.identity.local_issuer import LocalIssuer

    if settings.oidc_issuer is not None:
        print("haven: an external identity provider is configured; get tokens from it.")
        return
    issuer = LocalIssuer.open(settings.data_dir)
    print("haven: demo tokens (synthetic people of org-harbor; valid 8 hours):")
    for role, user, team in demo_accounts():
        token = issuer.mint(user, "org-harbor", [role], team)
        print(f"  {role:16s} {token}")
    print("haven: for example:")
    print(
        f'  TOKEN=<a token above>; curl -s -H "Authorization: Bearer $TOKEN" {base_url}/v1/whoami'
    )
    print(f"  curl -s {base_url}/ready")
    print(f"haven: web console: {base_url}/console/ (sign in as one of these demo people)")
    print(
        "haven: org-harbor's referral inbox (the demo sends a partner's referral there): "
        f"GET {base_url}/v1/inbox with the caseworker or supervisor token, or {base_url}"
        "/console/inbox signed in as either"
    )


def exposure_warning(host: str, tls: bool = False) -> str | None:
    """A loud warning when `haven serve` listens beyond this machine in plain HTTP: bearer
    tokens and case content would cross the network in the clear without TLS in front."""
    if tls:
        return None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return None
    return (
        f"haven: WARNING: serving plain HTTP on {host}, reachable from other machines. "
        "Tokens and case content cross the network unencrypted unless a TLS-terminating proxy "
        "is in front (README, Production set-up) or HAVEN_TLS_CERT and HAVEN_TLS_KEY are set. "
        "Bind to 127.0.0.1 behind the proxy."
    )


def fresh_metrics_dir(data_dir: Path) -> Path:
    """An empty directory for this server's metrics (prometheus-client's multiprocess mode):
    every worker writes its figures there and /metrics adds them up, whichever worker answers.
    Emptied at every start, so that the figures are this server's since it started."""
    path = data_dir / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True, mode=0o700)
    return path


def run_serve_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    """Migrate (and seed), then run the API under granian until interrupted.

    The database is started once, here; granian's workers find it through
    HAVEN_DATABASE_URL (and the key provider through HAVEN_KEK), see services/api/asgi.py.
    """
    from granian import Granian
    from granian.constants import Interfaces

    if args.workers < 1:
        print("haven: --workers must be at least 1", file=sys.stderr)
        return 2
    warning = exposure_warning(args.host, settings.tls)
    if warning is not None:
        print(warning, file=sys.stderr)
    asyncio.run(_prepare_to_serve(settings, url, args.demo))
    base_url = f"{'https' if settings.tls else 'http'}://{args.host}:{args.port}"
    if args.demo:
        _print_demo_tokens(settings, base_url)
    # The workers read these (services/api/asgi.py); prometheus-client reads its variable when
    # a worker imports it, after this.
    os.environ.update(
        HAVEN_DATABASE_URL=url,
        HAVEN_DATA_DIR=str(settings.data_dir),
        HAVEN_KEK=settings.kek_uri,
        PROMETHEUS_MULTIPROC_DIR=str(fresh_metrics_dir(settings.data_dir)),
    )
    print(
        f"haven: serving on {base_url} ({args.workers} worker(s)); Ctrl-C to stop. "
        f"OpenAPI: {base_url}/schema/openapi.json"
    )
    Granian(
        "services.api.asgi:build",
        address=args.host,
        port=args.port,
        interface=Interfaces.ASGI,
        workers=args.workers,
        factory=True,
        ssl_cert=settings.tls_cert,
        ssl_key=settings.tls_key,
    ).serve()
    print("haven: stopped.")
    return 0
