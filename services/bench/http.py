"""`haven bench http`: the API under a real server, against the raw limits of the same run.

`run_http_bench` opens synthetic cases through the use cases in a throw-away database, starts
granian serving the API as `haven serve` does (on a free loopback port, with a data directory of
its own), and measures ``command`` and ``case_read`` with the load generator in rounds
(`services.bench.http_rounds`), then ``overload``: commands offered open loop at half and twice
the server's measured capacity (`services.bench.overload`). What each figure and its raw limit
measure, and the targets, are in docs/benchmarks.md.

Everything written is synthetic: one organisation `org-bench`, one worker, intakes copied from
the API's documentation example with dates moved relative to today.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import os
import socket
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from domain.case.events import ServiceDelivered
from events.registry import EventRegistry, tag_of
from services.api.cases.schemas.examples import (
    OPEN_CASE_EXAMPLE,
    RECORD_SERVICE_EXAMPLE,
)
from services.api.cases.schemas.requests import (
    OpenCaseBody,
    RecordServiceBody,
)
from services.bench.http_rounds import case_read_figure, command_figure
from services.bench.overload import format_overload, overload_figure
from services.bench.report import format_table
from services.bench.scratch import scratch_database, scratch_pool
from services.bench.timing import in_parallel
from services.bench.workload import RAW_SCHEMA, BenchNoted, StoreWorkload
from services.bootstrap import runtime
from services.commands.use_cases import Actor, CaseUseCases
from services.identity.local_issuer import LocalIssuer
from services.settings import Settings

FIGURES = ("command", "case_read")  # against a raw limit; then "overload", against its targets
TARGETS: dict[str, float] = {"command": 0.25, "case_read": 0.25}  # minimum ours/raw
P99_LIMIT_MS = 50.0

ORGANISATION = "org-bench"
TEAM = "team-bench"
WORKER = "worker-bench-01"
READY_ATTEMPTS = 600  # x 0.1 s for the server to answer /ready
RAW_NOTE = (
    "raw: command = plain asyncpg single-row INSERTs/s of the same size, as many tasks as clients; "
    "case_read = GET /health on the same server, same load generator"
)


# -- synthetic data ----------------------------------------------------------------------


def _intake(today: dt.date) -> OpenCaseBody:
    """The API's documented intake example, dated two months before `today`."""
    body = copy.deepcopy(OPEN_CASE_EXAMPLE)
    intake_on = today - dt.timedelta(days=60)
    body["intake"]["intake_on"] = intake_on.isoformat()
    body["intake"]["referral_on"] = (intake_on - dt.timedelta(days=2)).isoformat()
    body["victim_status"]["determined_on"] = intake_on.isoformat()
    return msgspec.json.decode(msgspec.json.encode(body), type=OpenCaseBody)


def service_body(today: dt.date) -> dict[str, Any]:
    """The body of a recorded service (without `service_id`, which is new every time)."""
    body = {key: value for key, value in RECORD_SERVICE_EXAMPLE.items() if key != "service_id"}
    return {**body, "delivered_on": (today - dt.timedelta(days=1)).isoformat()}


def _service_id() -> str:
    return f"bench-service-{uuid.uuid4().hex}"  # the load generator's format too: same sizes


async def _seed(
    use_cases: CaseUseCases, *, clients: int, cases_per_client: int, history: int, today: dt.date
) -> list[list[list[Any]]]:
    """Open the cases through the use cases; returns [[case_id, version], ...] per client."""
    actor = Actor(WORKER, ORGANISATION)
    intake = _intake(today)
    service = service_body(today)
    cases: list[list[list[Any]]] = [[] for _ in range(clients)]

    async def one_case(owner: list[list[Any]]) -> int:
        case_id = str(uuid.uuid4())
        version = await use_cases.open_case(
            actor,
            intake.command(
                case_id=case_id, organisation_id=ORGANISATION, worker_id=WORKER, team_id=TEAM
            ),
        )
        for _ in range(history - 1):
            command = msgspec.json.decode(
                msgspec.json.encode({**service, "service_id": _service_id()}),
                type=RecordServiceBody,
            ).command()
            version = await use_cases.record_service(
                actor, case_id, command, expected_version=version
            )
        owner.append([case_id, version])
        return version

    jobs = [lambda owner=owner: one_case(owner) for owner in cases for _ in range(cases_per_client)]
    await in_parallel(jobs, 8)
    return cases


# -- the server ---------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def _server(
    env: Mapping[str, str], port: int, workers: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """granian serving the API factory, as `haven serve` runs it; stopped (SIGTERM) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "granian",
                "--interface",
                "asgi",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "services.api.asgi:build",
            ],
            env=dict(env),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession(base_url) as session:
        for _ in range(READY_ATTEMPTS):
            if process.poll() is not None:
                raise RuntimeError("the server exited at start-up:\n" + _log_tail(log))
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get("/ready") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError("the server never became ready:\n" + _log_tail(log))


async def run_http_bench(
    database_url: str,
    *,
    seconds: float = 9.0,
    warmup: float = 1.0,
    rounds: int = 3,
    clients: int = 32,
    cases_per_client: int = 4,
    history: int = 10,
    workers: int = 1,
    overload_seconds: float = 10.0,
    overload_cases: int = 256,
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Measure the API under granian against the raw limits; returns the figures.

    `database_url` names any database on the server (the `haven` one is fine): the bench
    creates `haven_bench_<hex>` next to it and drops it at the end, whatever happens. It opens
    `clients` x `cases_per_client` cases of `history` events, all assigned to one worker. Each
    figure runs `seconds` per side in all, in `rounds` alternating rounds, each load generator
    warming up for `warmup` seconds first; `workers` is the server's worker processes
    (`haven serve`'s default, 1). The overload runs `overload_seconds` at each load, after
    `warmup`, on those cases and `overload_cases` more (an open loop keeps many commands in
    flight, each on a case of its own).

    The results are ``{figure: {"value": rps, "unit": "req/s", "raw": raw per second, "ratio":
    value/raw, "p50_ms", "p99_ms", "requests": timed requests, "failed": timed requests that did
    not answer 200}}``, the percentiles nearest-rank over every request timed; and
    ``{"overload": ...}`` as `services.bench.overload.overload_figure` returns it.
    """
    if (
        seconds <= 0
        or warmup < 0
        or rounds < 1
        or clients < 1
        or cases_per_client < 1
        or history < 1
        or workers < 1
        or overload_seconds <= 0
        or overload_cases < 0
    ):
        raise ValueError(
            "seconds, rounds, clients, cases_per_client, history, workers and overload_seconds "
            "must be positive, overload_cases not negative"
        )
    note = progress or (lambda _line: None)
    today = dt.datetime.now(dt.UTC).date()
    async with scratch_database(database_url, note) as url:
        with tempfile.TemporaryDirectory(prefix="haven-bench-http-") as folder:
            data_dir = Path(folder) / "data"
            env = {
                **{k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")},
                "HAVEN_DATABASE_URL": url,
                "HAVEN_DATA_DIR": str(data_dir),
                "HAVEN_KEK": f"file:{Path(folder) / 'kek'}",
            }
            settings = Settings.from_environ(env)
            token = LocalIssuer.open(data_dir).mint(WORKER, ORGANISATION, ["caseworker"], TEAM)
            async with runtime(settings, url) as rt:
                note(f"opening {clients * cases_per_client} cases of {history} events")
                cases = await _seed(
                    CaseUseCases(rt.store),
                    clients=clients,
                    cases_per_client=cases_per_client,
                    history=history,
                    today=today,
                )
                note(f"opening {overload_cases} more cases for the overload")
                spare = await _seed(
                    CaseUseCases(rt.store),
                    clients=1,
                    cases_per_client=overload_cases,
                    history=history,
                    today=today,
                )
                size = await rt.pool.fetchval(
                    "SELECT avg(length(ciphertext))::int FROM haven.events WHERE event_type = $1",
                    tag_of(ServiceDelivered),
                )
                size = size or 400  # history=1: no service yet; any plausible size
                async with scratch_pool(url, min_size=clients + 2, max_size=clients + 4) as pool:
                    await pool.execute(RAW_SCHEMA)
                    bench = StoreWorkload(pool, rt.keyring, EventRegistry([BenchNoted]))
                    bench.blobs = [
                        os.urandom(size) for _ in bench.blobs
                    ]  # a recorded service's size
                    port = _free_port()
                    base_url = f"http://127.0.0.1:{port}"
                    log = Path(folder) / "server.log"
                    note(f"starting granian ({workers} worker(s)) on {base_url}")
                    with _server(env, port, workers, log) as process:
                        await _wait_ready(base_url, process, log)
                        base = {"base_url": base_url, "seconds": seconds / rounds, "warmup": warmup}
                        results = {
                            "case_read": await case_read_figure(
                                base, token, cases, rounds=rounds, note=note
                            ),
                            "command": await command_figure(
                                base,
                                token,
                                cases,
                                bench,
                                body=service_body(today),
                                rounds=rounds,
                                note=note,
                            ),
                        }
                        open_cases = [case for owned in cases for case in owned]
                        results["overload"] = await overload_figure(
                            {**base, "seconds": overload_seconds},
                            token,
                            open_cases + spare[0],
                            body=service_body(today),
                            clients=clients,
                            pool=rt.pool,
                            event_type=tag_of(ServiceDelivered),
                            note=note,
                        )
                        if process.poll() is not None:
                            raise RuntimeError(
                                "the server stopped during the bench:\n" + _log_tail(log)
                            )
        return {figure: results[figure] for figure in (*FIGURES, "overload")}


def print_table(results: Mapping[str, Mapping[str, Any]]) -> None:
    """Print the results of `run_http_bench` with the targets and pass/MISS markers."""
    figures = {name: results[name] for name in FIGURES}
    print(format_table(figures, TARGETS, latency_limit_ms=P99_LIMIT_MS))
    print(RAW_NOTE)
    if "overload" in results:
        print()
        print(format_overload(results["overload"]))
