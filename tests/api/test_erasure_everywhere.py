"""Attack: erase a case in one server and keep reading it through another. Two real servers
(granian serving `services.api.asgi:build`, each with its in-process projectors) and a
`haven worker` share one database. Server B reads the case, so its keyring, its recent
states and its projectors hold it; an idempotent command on it goes through A and its retry
through B, so the idempotency table holds its answer; server A erases the case. Then B is
asked again — at once, and after a delay longer than the stated bound — to read it, to show
its history, and to replay the idempotent command.

A unique canary sits in every free-text field of each case; afterwards none appears in any
answer, any view, any process's log, or a `pg_dump` of the database. Controls: before the
erasure B returns the canaries, and the replay of the command answers from the stored
result.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest

from events.log_order import LOG_START
from projections import checkpoints
from services.api.cases.schemas.examples import RECORD_SERVICE_EXAMPLE
from services.bench.scratch import scratch_database
from services.identity import LocalIssuer
from tests.api.test_canary import at, intake_body, leaks, make_canaries, people, pg_dump
from tests.api.test_served import free_port, granian, until_ready
from tests.projections.fault_support import HavenWorker, worker_environment

pytestmark = pytest.mark.slow
DELAYS = (0.0, 1.5)  # at once; and after the README's bound of 1 s
VIEWS = ("views.case_view", "views.caseload", "views.reporting_subjects")


async def _projected(pool: asyncpg.Pool) -> None:
    head = await checkpoints.log_head(pool)
    assert head == LOG_START or await checkpoints.wait_until_projected(
        pool, ["cases", "federal_inputs"], head, timeout=60
    )


async def test_an_erasure_in_one_server_reaches_the_other_server_and_the_worker(
    database_url: str, key_file: Path, tmp_path: Path
) -> None:
    async with scratch_database(database_url) as url:
        env = worker_environment(url, key_file, tmp_path / "data")
        who = people(LocalIssuer.open(tmp_path / "data"))
        worker = await HavenWorker.start(env, tmp_path / "worker.log")
        ports, logs = (free_port(), free_port()), (tmp_path / "a.log", tmp_path / "b.log")
        canaries: dict[str, str] = {}
        after: list[str] = []  # every answer given after an erasure
        with (
            granian(ports[0], env, logs[0]) as process_a,
            granian(ports[1], env, logs[1]) as process_b,
        ):
            async with (
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30) as a,
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[1]}", timeout=30) as b,
                asyncpg.create_pool(url, min_size=1, max_size=2) as pool,
            ):
                await until_ready(a, process_a, logs[0])
                await until_ready(b, process_b, logs[1])
                await worker.wait_running()
                for delay in DELAYS:
                    case_canaries = {
                        f"{name}": f"{value}-{int(delay * 10)}"
                        for name, value in make_canaries().items()
                    }
                    canaries.update(
                        {f"{name}@{delay}": value for name, value in case_canaries.items()}
                    )
                    opened = await a.post(
                        "/v1/cases", json=intake_body(case_canaries), headers=who["worker"]
                    )
                    assert opened.status_code == 201, opened.text
                    case = opened.json()["case_id"]
                    read = await b.get(f"/v1/cases/{case}", headers=who["worker"])
                    assert (
                        case_canaries["identity.preferred_name"] in read.text
                    )  # control: B holds it now
                    command = {**RECORD_SERVICE_EXAMPLE, "notes": case_canaries["service.notes"]}
                    retry = at(who["worker"], 1, idempotency_key=f"retry-{delay}")
                    first = await a.post(f"/v1/cases/{case}/services", json=command, headers=retry)
                    assert first.status_code == 200, first.text
                    # control: the client's retry reaches B, which knows the case at the version it
                    # names (its own read) and answers from the stored result
                    replayed = await b.post(
                        f"/v1/cases/{case}/services", json=command, headers=retry
                    )
                    assert replayed.json() == first.json()
                    await _projected(pool)
                    assert (
                        await a.delete(f"/v1/cases/{case}", headers=who["privacy"])
                    ).status_code == 204
                    await asyncio.sleep(delay)
                    answers = [
                        await b.get(f"/v1/cases/{case}", headers=who["worker"]),
                        await b.get(f"/v1/cases/{case}/history", headers=who["worker"]),
                        await b.post(f"/v1/cases/{case}/services", json=command, headers=retry),
                        await a.get(f"/v1/cases/{case}", headers=who["worker"]),
                    ]
                    assert [r.status_code for r in answers] == [404, 404, 404, 404], [
                        r.text for r in answers
                    ]
                    after += [r.text for r in answers]
                    listed = await b.get(
                        "/v1/cases", headers=who["worker"], params={"fresh": "true"}
                    )
                    assert case not in listed.text
                    after.append(listed.text)
                await _projected(pool)
                for view in VIEWS:
                    assert await pool.fetchval(f"SELECT count(*) FROM {view}") == 0, view
        worker_log = await worker.kill()
        dump = await pg_dump(url)
    assert leaks("\n".join(after), canaries) == {}
    for name, text in (
        ("server a", logs[0].read_text(errors="replace")),
        ("server b", logs[1].read_text(errors="replace")),
        ("worker", worker_log),
    ):
        assert leaks(text, canaries) == {}, name
    assert leaks(dump, canaries) == {}
