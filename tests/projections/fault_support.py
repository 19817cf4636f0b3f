"""Helpers of the projection fault tests (test_crash.py, test_two_workers.py).

* `HavenWorker`: a real `haven worker` process (the console script), its output in a file.
* `Writers`: synthetic demo cases appended through the use cases, in the background, until
  stopped — "events keep arriving".
* `views_from_the_log` / `projected_views` / `differences`: what the `cases` views must hold,
  computed afresh from every stream, against what they hold (decrypted: sealed bytes differ
  by nonce, so documents are compared opened). `differences` lists each problem, among them a
  version applied twice or never (the timeline of a case document must list every version of
  the stream exactly once, in order).

Everything written is the demo generator's synthetic data.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import NamedTuple

import asyncpg

from crypto.keyring import Keyring
from domain.case.state import fold
from events.access_log import case_data_key
from events.log_order import LOG_START, LogPosition
from events.store import PostgresEventStore
from projections.case_documents import CaseDocument, TimelineEntry, open_document
from projections.cases import CASELOAD_COLUMNS, caseload_row
from services.demo.generator import demo_plan
from services.demo.plan import Step
from services.demo.seeding import demo_use_cases

REPOSITORY = Path(__file__).resolve().parents[2]
HAVEN = Path(sys.executable).parent / "haven"  # the console script `haven` (services.cli:main)
RUNNING = "haven: worker running projections"

CaseKey = tuple[str, uuid.UUID]


# -- the log -------------------------------------------------------------------------------


async def log_head(pool: asyncpg.Pool) -> LogPosition:
    row = await pool.fetchrow(
        "SELECT transaction_id, position FROM haven.events "
        "ORDER BY transaction_id DESC, position DESC LIMIT 1"
    )
    return LOG_START if row is None else LogPosition(row[0], row[1])


async def checkpoint_position(pool: asyncpg.Pool, name: str = "cases") -> LogPosition | None:
    row = await pool.fetchrow(
        "SELECT transaction_id, position FROM haven.projection_checkpoints WHERE name = $1", name
    )
    return None if row is None else LogPosition(row[0], row[1])


class Writers:
    """Demo cases written through `CaseUseCases` in the background, seed after seed, until
    `stop()`: `concurrency` cases at a time, each case's commands in order, `gap` seconds
    after each command (a steady trickle rather than bursts)."""

    def __init__(
        self,
        store: PostgresEventStore,
        *,
        first_seed: int,
        cases: int = 4,
        concurrency: int = 2,
        gap: float = 0.0,
    ) -> None:
        self._use_cases = demo_use_cases(store)
        self._seed = first_seed
        self._cases = cases
        self._concurrency = concurrency
        self._gap = gap
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0
        self.commands = 0

    def start(self) -> None:
        assert self._task is None
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name="writers")

    async def _run(self) -> None:
        while not self._stopping.is_set():
            plan = demo_plan(seed=self._seed, cases=self._cases)
            scripts = iter(plan.scripts)

            async def write(scripts: Iterator[tuple[Step, ...]]) -> None:
                for script in scripts:  # shared: each script is taken by exactly one writer
                    for step in script:
                        if step.use_case == "open_case":
                            version = await self._use_cases.open_case(step.actor, step.command)
                        else:
                            version = await getattr(self._use_cases, step.use_case)(
                                step.actor,
                                step.case_id,
                                step.command,
                                expected_version=step.expected_version,
                            )
                        assert version == step.version, f"demo drift on case {step.case_id}"
                        self.commands += 1
                        await asyncio.sleep(self._gap)

            async with asyncio.TaskGroup() as group:
                for _ in range(self._concurrency):
                    group.create_task(write(scripts))
            self._seed += 1
            self.rounds += 1

    async def stop(self) -> None:
        """Let the round in progress finish (its cases complete), then stop; re-raise a failure."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping.set()
        await task


# -- a real `haven worker` -----------------------------------------------------------------


def worker_environment(database_url: str, key_file: Path, data_dir: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("HAVEN_")}
    env.update(
        HAVEN_DATABASE_URL=database_url,
        HAVEN_KEK=f"file:{key_file}",
        HAVEN_DATA_DIR=str(data_dir),
        PYTHONUNBUFFERED="1",
    )
    return env


class HavenWorker:
    """`haven worker` as a separate process; stdout and stderr go to `log`."""

    def __init__(self, process: asyncio.subprocess.Process, log: Path) -> None:
        self.process = process
        self.log = log

    @classmethod
    async def start(cls, env: Mapping[str, str], log: Path) -> HavenWorker:
        assert HAVEN.exists(), f"the haven console script is not installed at {HAVEN}"
        with log.open("wb") as out:
            process = await asyncio.create_subprocess_exec(
                str(HAVEN),
                "worker",
                cwd=REPOSITORY,
                env=dict(env),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        return cls(process, log)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def running(self) -> bool:
        """It has printed that it runs its projections (set-up done, projectors started)."""
        return RUNNING in self.output()

    async def wait_running(self, *, attempts: int = 3000) -> None:
        for _ in range(attempts):
            if self.running():
                return
            if self.process.returncode is not None:
                raise AssertionError(
                    f"haven worker exited with {self.process.returncode}:\n{self.output()}"
                )
            await asyncio.sleep(0.01)
        raise AssertionError(f"haven worker never said it was running:\n{self.output()}")

    async def kill(self) -> str:
        """SIGKILL; it must have been alive until then (a worker that died by itself fails)."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
        code = await self.process.wait()
        output = self.output()
        assert code == -signal.SIGKILL, (
            f"haven worker was not alive to be killed (exit {code}):\n{output}"
        )
        return output


# -- what the views hold, and what they must hold ------------------------------------------


class CaseViews(NamedTuple):
    caseload: tuple | None  # the caseload row, in CASELOAD_COLUMNS order
    document: CaseDocument | None  # the case view, opened


async def views_from_the_log(store: PostgresEventStore) -> dict[CaseKey, CaseViews]:
    """What a rebuild from scratch must produce: every live stream read and folded afresh."""
    streams = await store.pool.fetch(
        "SELECT tenant_id, stream_id FROM haven.streams WHERE wrapped_key IS NOT NULL"
    )
    expected = {}
    for tenant_id, stream_id in streams:
        events = await store.read_stream(tenant_id, stream_id)
        state = fold((r.version, r.event) for r in events)
        timeline = tuple(
            TimelineEntry(
                r.version, r.recorded_at, r.event_type, r.metadata.actor_id if r.metadata else None
            )
            for r in events
        )
        expected[(tenant_id, stream_id)] = CaseViews(
            caseload_row(tenant_id, stream_id, state), CaseDocument(state, timeline)
        )
    return expected


async def projected_views(pool: asyncpg.Pool, keyring: Keyring) -> dict[CaseKey, CaseViews]:
    """What the stable views `views.caseload` and `views.case_view` hold, documents opened."""
    caseload = {
        (r[0], r[1]): tuple(r)
        for r in await pool.fetch(f"SELECT {', '.join(CASELOAD_COLUMNS)} FROM views.caseload")
    }
    documents = {}
    for tenant_id, case_id, version, sealed in await pool.fetch(
        "SELECT tenant_id, case_id, version, sealed FROM views.case_view"
    ):
        key = await case_data_key(pool, keyring, tenant_id, case_id)
        documents[(tenant_id, case_id)] = open_document(key, tenant_id, case_id, version, sealed)
    return {
        ident: CaseViews(caseload.get(ident), documents.get(ident))
        for ident in caseload.keys() | documents.keys()
    }


def differences(
    expected: Mapping[CaseKey, CaseViews], actual: Mapping[CaseKey, CaseViews], *, limit: int = 20
) -> list[str]:
    """Every way `actual` is not `expected` (up to `limit`), duplicates and gaps named."""
    found: list[str] = []
    for ident in sorted(expected.keys() | actual.keys(), key=str):
        want, got = expected.get(ident), actual.get(ident)
        if want is None:
            found.append(f"{ident}: projected, but no such live stream")
            continue
        if got is None or got.document is None or got.caseload is None:
            found.append(f"{ident}: missing from the views ({got})")
            continue
        assert want.document is not None
        versions = [entry.version for entry in got.document.timeline]
        twice = sorted(v for v, n in Counter(versions).items() if n > 1)
        never = sorted(set(range(1, want.document.state.version + 1)) - set(versions))
        if twice:
            found.append(f"{ident}: versions applied more than once: {twice}")
        if never:
            found.append(f"{ident}: versions never applied: {never}")
        if versions != sorted(versions):
            found.append(f"{ident}: timeline out of order: {versions}")
        if got.document.state != want.document.state:
            found.append(
                f"{ident}: state at version {got.document.state.version}, "
                f"the log folds to version {want.document.state.version} (or differs)"
            )
        elif got.document != want.document:
            found.append(f"{ident}: timeline differs from the log's")
        if got.caseload != want.caseload:
            found.append(f"{ident}: caseload row differs: {got.caseload} != {want.caseload}")
        if len(found) >= limit:
            break
    return found[:limit]


async def view_differences(store: PostgresEventStore, keyring: Keyring) -> list[str]:
    return differences(await views_from_the_log(store), await projected_views(store.pool, keyring))
