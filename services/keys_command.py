"""`haven keys status | rotate | retire`: the lifecycle of the organisations' KEKs.

What each does, online, and how a run resumes is in docs/operations.md#key-rotation; the
re-wrapping itself is `events.key_rotation`. Nothing here prints key material: a version is
named by its kek id, which is a name (``file:k2``, ``pkcs11:<object>:<org>:<CKA_ID>``).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, cast

import asyncpg
from tqdm import tqdm

from crypto.errors import KeyProviderError
from crypto.keyring import Keyring
from crypto.provider_uri import provider_from_uri
from crypto.providers import KekAdministration, KekVersion, KeyProvider
from events.key_rotation import (
    KekUsage,
    kek_usage,
    organisations,
    references,
    rewrap_organisation,
    to_rewrap,
)
from services.database import connection_pool, prepare_database
from services.settings import Settings

_NONE = KekUsage(0, 0, 0)


async def run_keys_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    await prepare_database(url)
    provider = provider_from_uri(settings.kek_uri)
    admin = cast(KekAdministration, provider)
    try:
        async with connection_pool(url, min_size=1, max_size=8) as pool:
            if args.keys_command == "status":
                return await _status(pool, admin, args)
            if args.keys_command == "rotate":
                return await _rotate(pool, provider, admin, args)
            return await _retire(pool, admin, args)
    finally:
        provider.close()


async def _organisations(pool: asyncpg.Pool, args: argparse.Namespace) -> list[str]:
    return [args.org] if args.org else await organisations(pool)


def _provider_name(kek_id: str) -> str:
    return kek_id.partition(":")[0]


async def _status(pool: asyncpg.Pool, admin: KekAdministration, args: argparse.Namespace) -> int:
    report: list[dict[str, Any]] = []
    for org in await _organisations(pool, args):
        usage = await kek_usage(pool, org)
        versions = admin.versions(org)
        known = {version.kek_id for version in versions}
        versions += [KekVersion(kek_id, None, "missing") for kek_id in usage if kek_id not in known]
        report.append(
            {
                "organisation": org,
                "versions": [
                    {
                        "kek_id": version.kek_id,
                        "provider": _provider_name(version.kek_id),
                        "created": version.created,
                        "state": version.state,
                        "data_keys": usage.get(version.kek_id, _NONE).data_keys,
                        "secrets": usage.get(version.kek_id, _NONE).secrets,
                        "erased": usage.get(version.kek_id, _NONE).erased,
                    }
                    for version in versions
                ],
            }
        )
    if args.json:
        print(json.dumps({"organisations": report}, indent=2))
    else:
        _print_status(report)
    missing = any(v["state"] == "missing" for org in report for v in org["versions"])
    return 1 if missing else 0


def _print_status(report: list[dict[str, Any]]) -> None:
    if not report:
        print("haven keys status: no organisation has data keys yet")
    header = ("kek id", "provider", "created", "state", "data keys", "secrets", "erased")
    for org in report:
        rows = [header] + [
            (
                v["kek_id"],
                v["provider"],
                v["created"] or "-",
                v["state"],
                str(v["data_keys"]),
                str(v["secrets"]),
                str(v["erased"]),
            )
            for v in org["versions"]
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        print(f"organisation {org['organisation']}")
        for row in rows:
            cells = (cell.ljust(width) for cell, width in zip(row, widths, strict=True))
            print("  " + "  ".join(cells).rstrip())


async def _rotate(
    pool: asyncpg.Pool, provider: KeyProvider, admin: KekAdministration, args: argparse.Namespace
) -> int:
    orgs = await _organisations(pool, args)
    if args.org is None and not orgs and not admin.shared_across_organisations:
        print("haven keys rotate: no organisation has keys yet; name one with --org")
        return 0
    # Versions are created only when the last rotation finished: a run after a kill (anywhere
    # among the organisations) resumes it, and rotates no organisation a second time.
    scopes = [""] if admin.shared_across_organisations else orgs
    pending = 0
    for org in orgs:
        pending += await to_rewrap(pool, org, admin.active_kek_id(org))
    if pending:
        print(
            f"haven keys rotate: resuming: {pending} keys are not under the active KEK yet",
            file=sys.stderr,
        )
    else:
        for scope in scopes:
            print(f"haven keys rotate: created {admin.rotate(scope)}, active", file=sys.stderr)
    keyring = Keyring(provider)
    total = 0
    for org in orgs:
        total += await to_rewrap(pool, org, admin.active_kek_id(org))
    data_keys = secrets = skipped = failed = 0
    with tqdm(total=total, desc="re-wrapping", unit="key", file=sys.stderr) as bar:
        for org in orgs:
            result = await rewrap_organisation(
                pool,
                keyring,
                admin,
                org,
                batch=args.batch,
                walkers=args.walkers,
                progress=bar.update,
            )
            data_keys += result.data_keys
            secrets += result.secrets
            skipped += result.skipped
            failed += result.failed
    actives = sorted({admin.active_kek_id(org) for org in orgs})
    print(
        f"haven keys rotate: {len(orgs)} organisations; {data_keys} data keys and {secrets} "
        f"secrets re-wrapped under {', '.join(actives) or 'the active KEK'}; {skipped} changed "
        f"meanwhile (erased or re-wrapped elsewhere); {failed} did not unwrap"
    )
    if failed:
        print(
            "haven keys rotate: keys that do not unwrap were left as they are; "
            "`haven verify` names their streams",
            file=sys.stderr,
        )
    return 1 if failed else 0


async def _retire(pool: asyncpg.Pool, admin: KekAdministration, args: argparse.Namespace) -> int:
    shared = admin.shared_across_organisations
    orgs = await _organisations(pool, args)
    if args.version is not None:
        kek_id = args.version if ":" in args.version else f"file:{args.version}"
        owners = [""] if shared else [org for org in orgs if _holds(admin, org, kek_id)]
        if not owners:
            print(f"haven keys retire: no organisation has the KEK {kek_id}", file=sys.stderr)
            return 1
        candidates = [(owners[0], kek_id)]
    else:
        scopes = [""] if shared else orgs
        candidates = [
            (scope, version.kek_id)
            for scope in scopes
            for version in admin.versions(scope)
            if version.state == "retiring"
        ]
    kept = 0
    for scope, kek_id in candidates:
        count = await references(pool, None if shared else scope, kek_id)
        if kek_id == admin.active_kek_id(scope):
            kept += 1
            print(
                f"haven keys retire: refused: {kek_id} is the active KEK and wraps {count} data "
                "keys or secrets; `haven keys rotate` makes another version active first",
                file=sys.stderr,
            )
            continue
        if count:
            kept += 1
            print(
                f"haven keys retire: refused: {kek_id} still wraps {count} data keys or "
                "secrets; run `haven keys rotate` (it resumes) and retire again",
                file=sys.stderr,
            )
            continue
        try:
            admin.retire(scope, kek_id)
        except KeyProviderError as error:
            print(f"haven keys retire: refused: {error}", file=sys.stderr)
            kept += 1
            continue
        print(f"haven keys retire: retired {kek_id}")
    if not candidates:
        print("haven keys retire: no retiring KEK version")
    return 1 if kept else 0


def _holds(admin: KekAdministration, org: str, kek_id: str) -> bool:
    return any(version.kek_id == kek_id for version in admin.versions(org))
