"""`haven bench http`: the API under a real server, against the raw limits of the same run.

`run_http_bench(url)` creates a throw-away database `haven_bench_<hex>` on the server of `url`
(as `haven bench store` does), migrates it, opens `clients` x `cases_per_client` synthetic
cases assigned to one bench case worker through the use cases (`services.commands.use_cases`), each with
`history` events (the intake, then services), and starts the real server: granian serving
`services.api.asgi:build`, as `haven serve` does, on a free loopback port, with its own data
directory (key file and token-signing key) in a temporary folder. A token for the worker is
minted with the local issuer. Load comes from `services.bench.loadgen`, run as a separate
process for each round, with `clients` (32) concurrent clients on keep-alive connections.

Figures, each in requests per second with the latency percentiles of every request timed:

* ``command``: `POST /v1/cases/{id}/services` (auth, validation, load and decide, sealing,
  append with the hash chain, the actor in the sealed metadata), each client on its own cases
  with the `If-Match` version of its last answer. Raw: plain asyncpg single-row autocommit
  INSERTs of a row as large as a recorded service (its mean ciphertext length) into a table
  like `haven.events`, by as many concurrent tasks (the store bench's raw writer).
* ``case_read``: `GET /v1/cases/{id}` by the assigned worker (auth, load, chain and tags
  verified, the access record committed before answering). Raw: the same server answering
  `GET /health` (no auth, no database), measured by the same load generator.

Reads run first, on cases of exactly `history` events; commands then make each case grow by
about (command rate x time) / (clients x cases_per_client) events. Ours and raw alternate
over `rounds` rounds (order flipped each round), `seconds` per side in all; each load
generator process warms up for `warmup` seconds (uncounted) before its round, the raw insert
tasks before their first round only. Percentiles are nearest-rank over every request timed.

The results are ``{figure: {"value": rps, "unit": "req/s", "raw": raw per second, "ratio":
value/raw, "p50_ms", "p99_ms", "requests": timed requests, "failed": timed requests that did
not answer 200}}``; `print_table` shows them with the targets (`TARGETS`, `P99_LIMIT_MS`).

Everything written is synthetic: one organisation `org-bench`, one worker, intakes copied from
the API's documentation example with dates moved relative to today.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import json
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
from services.bench.report import format_table
from services.bench.scratch import scratch_database, scratch_pool
from services.bench.timing import drive, in_parallel, percentile
from services.bench.workload import RAW_SCHEMA, BenchNoted, StoreWorkload
from services.bootstrap import runtime
from services.commands.use_cases import Actor, CaseUseCases
from services.identity.local_issuer import LocalIssuer
from services.settings import Settings

FIGURES = ("command", "case_read")
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


# -- the server and the load generator ---------------------------------------------------


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


async def _load(spec: Mapping[str, Any]) -> dict[str, Any]:
    """One round of `services.bench.loadgen` in its own process."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.bench.loadgen",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate(json.dumps(spec).encode())
    if process.returncode != 0:
        raise RuntimeError(
            f"the load generator failed ({process.returncode}): {err.decode(errors='replace')[-2000:]}"
        )
    return json.loads(out)


class _Side:
    """Totals of one side of a figure over its rounds."""

    def __init__(self) -> None:
        self.requests = 0
        self.failed = 0
        self.elapsed = 0.0
        self.latencies: list[float] = []

    def add(self, result: Mapping[str, Any]) -> None:
        self.requests += int(result["requests"])
        self.failed += int(result["failed"])
        self.elapsed += float(result["elapsed"])
        self.latencies.extend(result["latencies_ms"])

    @property
    def rate(self) -> float:
        return self.requests / self.elapsed if self.elapsed else 0.0


def _figure(ours: _Side, raw: float) -> dict[str, Any]:
    return {
        "value": float(ours.rate),
        "unit": "req/s",
        "raw": float(raw),
        "ratio": float(ours.rate / raw) if raw else 0.0,
        "p50_ms": percentile(ours.latencies, 0.50),
        "p99_ms": percentile(ours.latencies, 0.99),
        "requests": ours.requests,
        "failed": ours.failed,
    }


# -- the figures ----------------------------------------------------------------------------


async def _case_read(
    base: dict[str, Any],
    token: str,
    cases: list[list[list[Any]]],
    *,
    rounds: int,
    note: Callable[[str], None],
) -> dict[str, Any]:
    reads = {
        **base,
        "kind": "get",
        "headers": {"Authorization": f"Bearer {token}"},
        "paths": [[f"/v1/cases/{case_id}" for case_id, _ in owned] for owned in cases],
    }
    trivial = {**base, "kind": "get", "headers": {}, "paths": [["/health"] for _ in cases]}
    ours, raw = _Side(), _Side()
    sides = [(ours, reads), (raw, trivial)]
    for round_ in range(rounds):
        note(f"case_read: round {round_ + 1} of {rounds}")
        for side, spec in sides if round_ % 2 == 0 else sides[::-1]:
            side.add(await _load(spec))
    if raw.failed:
        raise RuntimeError(f"GET /health failed {raw.failed} times")
    return _figure(ours, raw.rate)


async def _command(
    base: dict[str, Any],
    token: str,
    cases: list[list[list[Any]]],
    bench: StoreWorkload,
    *,
    today: dt.date,
    rounds: int,
    note: Callable[[str], None],
) -> dict[str, Any]:
    spec = {
        **base,
        "kind": "command",
        "headers": {"Authorization": f"Bearer {token}"},
        "body": service_body(today),
        "cases": cases,
    }
    writers = [bench.raw_writer() for _ in cases]
    ours, raw_rows, raw_elapsed = _Side(), 0, 0.0
    for round_ in range(rounds):
        note(f"command: round {round_ + 1} of {rounds}")
        for side in ("ours", "raw") if round_ % 2 == 0 else ("raw", "ours"):
            if side == "ours":
                result = await _load(spec)
                spec["cases"] = result["cases"]  # each client's versions, carried to the next round
                ours.add(result)
            else:
                warmup = base["warmup"] if round_ == 0 else 0.0
                rows, elapsed = await drive(writers, base["seconds"], warmup)
                raw_rows += rows
                raw_elapsed += elapsed
    return _figure(ours, raw_rows / raw_elapsed)


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
    progress: Callable[[str], None] | None = None,
) -> dict[str, dict[str, Any]]:
    """Measure the API under granian against the raw limits; returns the figures (module doc).

    `database_url` names any database on the server (the `haven` one is fine): the bench
    creates `haven_bench_<hex>` next to it and drops it at the end, whatever happens. Each
    figure runs `seconds` per side in all, in `rounds` alternating rounds; `workers` is the
    server's worker processes (`haven serve`'s default, 1).
    """
    if (
        seconds <= 0
        or warmup < 0
        or rounds < 1
        or clients < 1
        or cases_per_client < 1
        or history < 1
        or workers < 1
    ):
        raise ValueError(
            "seconds, rounds, clients, cases_per_client, history and workers must be positive"
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
                            "case_read": await _case_read(
                                base, token, cases, rounds=rounds, note=note
                            ),
                            "command": await _command(
                                base, token, cases, bench, today=today, rounds=rounds, note=note
                            ),
                        }
                        if process.poll() is not None:
                            raise RuntimeError(
                                "the server stopped during the bench:\n" + _log_tail(log)
                            )
        return {figure: results[figure] for figure in FIGURES}


def print_table(results: Mapping[str, Mapping[str, Any]]) -> None:
    """Print the results of `run_http_bench` with the targets and pass/MISS markers."""
    print(format_table(results, TARGETS, latency_limit_ms=P99_LIMIT_MS))
    print(RAW_NOTE)
