"""`haven bench http`: the API under a real server, against the raw limits of the same run.

`run_http_bench` opens synthetic cases through the use cases in a throw-away database, starts
granian serving the API as `haven serve` does (on a free loopback port, with a data directory of
its own) and, with the same command line and settings, the raw app (`services.bench.raw_app`:
one plain INSERT, or one SELECT by primary key, per request); it measures ``command`` and
``case_read`` on both with the load generator in alternating rounds
(`services.bench.http_rounds`), then ``command_latency``: commands offered open loop at half
the measured command capacity, then ``overload``: keyed commands offered open loop at half and
twice the server's measured capacity (`services.bench.overload`). What each figure and its raw
limit measure, and the targets, are in docs/benchmarks.md.

Everything written is synthetic: one organisation `org-bench`, one worker, intakes copied from
the API's documentation example with dates moved relative to today.
"""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import asyncpg
import msgspec

from domain.case.events import ServiceDelivered
from events.registry import tag_of
from services.api.cases.schemas.examples import (
    OPEN_CASE_EXAMPLE,
    RECORD_SERVICE_EXAMPLE,
)
from services.api.cases.schemas.requests import (
    OpenCaseBody,
    RecordServiceBody,
)
from services.bench.http_rounds import format_latency, latency_figure, paired_figure, specs
from services.bench.http_server import (
    API_FACTORY,
    RAW_FACTORY,
    cpu_seconds,
    free_port,
    log_tail,
    served,
    wait_ready,
)
from services.bench.overload import format_overload, overload_figure
from services.bench.raw_app import SIZE_VARIABLE, seed_reads
from services.bench.report import format_table
from services.bench.scratch import scratch_database, scratch_pool
from services.bench.timing import in_parallel
from services.bootstrap import runtime
from services.commands.use_cases import Actor, CaseUseCases
from services.identity.local_issuer import LocalIssuer
from services.settings import Settings

FIGURES = ("command", "case_read")  # against a raw limit; then the open loops, against targets
STARTUP_RETRIES = 30  # reads answered 503 (Retry-After: 1) while projections are built
TARGETS: dict[str, float] = {"command": 0.5, "case_read": 0.5}  # minimum ours/raw

ORGANISATION = "org-bench"
TEAM = "team-bench"
WORKER = "worker-bench-01"
RAW_NOTE = (
    "raw: the raw app (services/bench/raw_app.py) under the same granian settings, same load "
    "generator: command = one plain INSERT of a row as large as a recorded service; "
    "case_read = one SELECT by primary key"
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

    The results are ``{figure: {"value": rps, "unit": "req/s", "raw": the raw app's rps,
    "ratio": value/raw, "p50_ms", "p99_ms", "raw_p50_ms", "raw_p99_ms", "server_cpu_ms" and
    "raw_server_cpu_ms": the server's CPU time (all its processes) per request answered over
    its rounds, warm-ups included, "generator_cpu" and
    "raw_generator_cpu": the load generator's CPU time over its run's time in its busiest round
    (1.0: a whole core), "requests": timed requests, "failed": timed requests that did not
    answer 200, "raw_failed": the raw app's (more than 1 in 100 fails the run)}}``, the
    percentiles
    nearest-rank over every request timed; ``{"command_latency": ...}`` as
    `services.bench.http_rounds.latency_figure` returns it (for `overload_seconds`); and
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
            async with runtime(settings, url) as rt:  # closed before the servers start
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
            env["HAVEN_DB_POOL_SIZE"] = str(pool_size(workers, clients))
            env[SIZE_VARIABLE] = str(size or 400)  # history=1: no service yet; a plausible size
            async with scratch_pool(url, min_size=1, max_size=2) as pool:
                results = await _measure(
                    Served(env, workers, Path(folder)),
                    Load(seconds, warmup, rounds, token, service_body(today)),
                    cases,
                    spare[0],
                    overload_seconds=overload_seconds,
                    clients=clients,
                    pool=pool,
                    note=note,
                )
        return {figure: results[figure] for figure in (*FIGURES, "command_latency", "overload")}


def pool_size(workers: int, clients: int = 32) -> int:
    """`HAVEN_DB_POOL_SIZE` of both servers: as many connections per worker as the clients it
    serves at once, 20 (the default) at most, 8 at least: then the two servers, the API's
    projectors and the bench fit in PostgreSQL's default `max_connections` (100) up to 4
    workers."""
    return max(8, min(20, -(-clients // workers)))


class Served(NamedTuple):
    env: dict[str, str]  # both servers' environment
    workers: int
    folder: Path  # where their logs go


class Load(NamedTuple):
    seconds: float  # per side of a paired figure, over all its rounds
    warmup: float
    rounds: int
    token: str
    body: dict[str, Any]  # a recorded service's, without its `service_id`


async def _measure(
    served_as: Served,
    load: Load,
    cases: list[list[list[Any]]],
    spare: list[list[Any]],
    *,
    overload_seconds: float,
    clients: int,
    pool: asyncpg.Pool,
    note: Callable[[str], None],
) -> dict[str, dict[str, Any]]:
    """The API's server for every figure, the raw app's beside it for the paired ones."""
    env, workers, folder = served_as
    api_url = f"http://127.0.0.1:{free_port()}"
    note(f"starting granian ({workers} worker(s), pool {env['HAVEN_DB_POOL_SIZE']}) on {api_url}")
    api_log, raw_log = folder / "api.log", folder / "raw.log"
    with served(API_FACTORY, env, _port(api_url), workers, api_log) as api:
        await wait_ready(api_url, api, api_log)
        view = await _view_size(api_url, load.token, cases[0][0][0])
        await seed_reads(pool, [case_id for owned in cases for case_id, _ in owned], view)
        raw_url = f"http://127.0.0.1:{free_port()}"
        note(f"starting granian ({workers} worker(s)) on {raw_url}, the raw app")
        base = {"base_url": api_url, "seconds": load.seconds / load.rounds, "warmup": load.warmup}
        loads = specs(base, raw_url, load.token, cases, load.body)
        results: dict[str, dict[str, Any]] = {}
        with served(RAW_FACTORY, env, _port(raw_url), workers, raw_log) as raw:
            await wait_ready(raw_url, raw, raw_log)
            for name in ("case_read", "command"):  # reads first, on cases of `history` events
                ours, raw_spec = loads[name]
                try:
                    results[name] = await paired_figure(
                        name,
                        ours,
                        raw_spec,
                        rounds=load.rounds,
                        note=note,
                        cpu=(lambda: cpu_seconds(api), lambda: cpu_seconds(raw)),
                    )
                except RuntimeError as error:
                    raise RuntimeError(
                        f"{error}; the raw app's log:\n{log_tail(raw_log)}"
                    ) from None
            if raw.poll() is not None:
                raise RuntimeError("the raw app stopped:\n" + log_tail(raw_log))
        open_cases = [case for owned in loads["command"][0]["cases"] for case in owned]
        results["command_latency"] = await latency_figure(
            {**base, "seconds": overload_seconds},
            load.token,
            open_cases,
            capacity=results["command"]["value"],
            body=load.body,
            note=note,
        )
        results["overload"] = await overload_figure(
            {**base, "seconds": overload_seconds},
            load.token,
            open_cases + spare,
            body=load.body,
            clients=clients,
            pool=pool,
            event_type=tag_of(ServiceDelivered),
            note=note,
        )
        if api.poll() is not None:
            raise RuntimeError("the server stopped during the bench:\n" + log_tail(api_log))
    return results


def _port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


async def _view_size(base_url: str, token: str, case_id: str) -> int:
    """The length of one case's view as the API answers it (one read, not timed): the raw
    read answers as much. A server that has just started builds its projections first and
    may answer 503 with `Retry-After` meanwhile: the read is retried as a client would."""
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession(base_url, headers=headers) as session:
        for _ in range(STARTUP_RETRIES):
            async with session.get(f"/v1/cases/{case_id}") as response:
                body = await response.read()
                if response.status != 503:
                    break
                await asyncio.sleep(float(response.headers.get("Retry-After", "1")))
        if response.status != 200:
            raise RuntimeError(f"reading a seeded case answered {response.status}")
    return max(1, len(body) * 3 // 4 - 100)  # base64 and the row's other members


def print_table(results: Mapping[str, Mapping[str, Any]]) -> None:
    """Print the results of `run_http_bench` with the targets and pass/MISS markers."""
    figures = {name: results[name] for name in FIGURES}
    print(format_table(figures, TARGETS))
    print(RAW_NOTE)
    for name, figure in figures.items():
        print(
            f"{name} raw latency: p50 {figure['raw_p50_ms']:.1f} ms, "
            f"p99 {figure['raw_p99_ms']:.1f} ms; server CPU per request "
            f"{figure['server_cpu_ms']:.2f} ms ours, {figure['raw_server_cpu_ms']:.2f} ms raw; "
            f"load generator at most {figure['generator_cpu']:.2f} of a core on ours, "
            f"{figure['raw_generator_cpu']:.2f} on raw; not answered 200: {figure['failed']} ours, "
            f"{figure['raw_failed']} raw"
        )
    if "command_latency" in results:
        print()
        print(format_latency(results["command_latency"]))
    if "overload" in results:
        print()
        print(format_overload(results["overload"]))
