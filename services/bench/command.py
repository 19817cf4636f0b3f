"""`haven bench SUITE`: run one benchmark suite, print its table, optionally write JSON."""

from __future__ import annotations

import argparse
import json

from services.settings import Settings

BENCH_EXTRA_MISSING = (
    "haven bench http: the load generator's HTTP client (aiohttp) is not installed: "
    "pip install 'haven[bench]'"
)


def bench_client_missing(suite: str) -> bool:
    """Whether the suite needs the HTTP client of the `bench` extra and it is not installed."""
    if suite != "http":
        return False
    try:
        import services.bench.http  # noqa: F401  (imported here only: it loads aiohttp)
    except ImportError as error:
        if (error.name or "").partition(".")[0] != "aiohttp":
            raise
        return True
    return False


async def run_bench_command(settings: Settings, url: str, args: argparse.Namespace) -> int:
    if args.suite == "http":
        from services.bench.http import print_table, run_http_bench

        results = await run_http_bench(url, workers=args.workers)
    elif args.suite == "projections":
        from services.bench.projections import print_table, run_projections_bench

        results = await run_projections_bench(
            url, progress=lambda line: print(f"haven bench: {line}", flush=True)
        )
    elif args.suite == "erasure":
        from services.bench.erasure import print_table, run_erasure_bench

        results = await run_erasure_bench(
            url, progress=lambda line: print(f"haven bench: {line}", flush=True)
        )
    elif args.suite == "keys":
        from services.bench.keys import print_table, run_keys_bench

        results = await run_keys_bench(
            url, keys=args.keys, progress=lambda line: print(f"haven bench: {line}", flush=True)
        )
    elif args.suite == "report" and args.history:
        from services.bench.report_history import print_table, run_report_history_bench

        results = await run_report_history_bench(
            url,
            organisations=args.organisations,
            progress=lambda line: print(f"haven bench: {line}", flush=True),
        )
    elif args.suite == "report":
        from services.bench.report_bench import print_table, run_report_bench

        results = await run_report_bench(
            url, progress=lambda line: print(f"haven bench: {line}", flush=True)
        )
    else:
        from services.bench.store import print_table, run_store_bench

        results = await run_store_bench(url)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0
