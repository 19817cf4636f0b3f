"""Backup and restore with PostgreSQL's own tools (docs/operations.md, Backup and restore), and
erasures that survive a restore. Real PostgreSQL, real `pg_dump -Fc`/`pg_restore` processes,
real crypto; the cases carry a unique canary in every free-text field.

* A backup taken while commands keep arriving restores into a fresh database, passes
  `haven verify`, and every case acknowledged before the dump began reads back.
* Attack: restore the backup without its key material (a key file created afresh where the
  old one is missing, or another deployment's). The backup's bytes hold no canary, the server
  refuses to start and says why (`KeyMaterialMismatch`), and no API answer holds a canary.
  Control: the same backup with its key file reads the canaries.
* Attack: restore a backup taken before an erasure, to bring the erased case back. `haven
  restore-check`, and the server's start-up, erase it again from the erasure list: it answers
  404. Control (dry): checked against an empty list, the restored case reads its canary.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from crypto.providers import FileKeyProvider
from events.erasure_list import ErasureList, ListedErasure, listed_now
from events.verify import verify_store
from services.api.app import create_app
from services.api.asgi import ServedApp
from services.bench.scratch import scratch_database
from services.bootstrap import Runtime, runtime
from services.identity import LocalIssuer, TokenVerifier, verifier_from_settings
from services.restore_check import check_erasures
from services.settings import Settings
from tests.api.conftest import api_client
from tests.api.test_canary import ORG, intake_body, leaks, make_canaries, people
from tests.services.backup_support import dump, restored
from tests.services.test_database_paths import REPOSITORY, haven_env
from tests.tiers import scaled

CASES_BEFORE_THE_DUMP = scaled(default=3, full=25)


def settings_for(url: str, data_dir: Path, key_file: Path, erasure_log: Path) -> Settings:
    return Settings.from_environ(
        {
            "HAVEN_DATABASE_URL": url,
            "HAVEN_DATA_DIR": str(data_dir),
            "HAVEN_KEK": f"file:{key_file}",
            "HAVEN_ERASURE_LOG": str(erasure_log),
        }
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    """The runtime `haven serve` opens, and the app over it (its start-up checks aside)."""
    assert settings.database_url is not None
    async with runtime(settings, settings.database_url) as rt:
        issuer = LocalIssuer.open(settings.data_dir)
        app = create_app(
            runtime=rt, verifier=TokenVerifier.for_local_issuer(issuer), settings=settings
        )
        async with api_client(app, lifespan=False) as client:
            yield rt, client


@contextlib.asynccontextmanager
async def started(app: ServedApp) -> AsyncIterator[dict[str, Any]]:
    """The server's lifespan, as granian drives it; yields its answer to `lifespan.startup`."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    answer = await outbox.get()
    try:
        yield answer
    finally:
        if answer["type"] == "lifespan.startup.complete":
            await inbox.put({"type": "lifespan.shutdown"})
            await outbox.get()
        await task


async def open_case(client: httpx.AsyncClient, who: dict[str, dict[str, str]]) -> tuple[str, str]:
    """A case with canaries in every free-text field: (its id, its preferred name)."""
    canaries = make_canaries()
    opened = await client.post("/v1/cases", json=intake_body(canaries), headers=who["worker"])
    assert opened.status_code == 201, opened.text
    return opened.json()["case_id"], canaries["identity.preferred_name"]


async def haven(settings: Settings, key_file: Path, *command: str) -> tuple[int, str, str]:
    """`haven <command>` as a process, configured by its environment as an operator runs it."""
    assert settings.database_url is not None
    env = haven_env(
        HAVEN_DATABASE_URL=settings.database_url,
        HAVEN_DATA_DIR=str(settings.data_dir),
        HAVEN_KEK=f"file:{key_file}",
        HAVEN_ERASURE_LOG=str(settings.erasure_log_path),
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        *command,
        cwd=REPOSITORY,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


@pytest.mark.slow
async def test_a_backup_taken_while_commands_arrive_restores_and_verifies(
    server_url: str, database_url: str, key_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with scratch_database(database_url) as url:
        settings = settings_for(url, data, key_file, data / "erasures.log")
        who = people(LocalIssuer.open(data))
        async with serving(settings) as (_, client):
            acknowledged = [await open_case(client, who) for _ in range(CASES_BEFORE_THE_DUMP)]
            stop = asyncio.Event()

            async def keep_arriving() -> int:
                arrived = 0
                while not stop.is_set():
                    acknowledged.append(await open_case(client, who))
                    arrived += 1
                return arrived

            writer = asyncio.create_task(keep_arriving())
            while len(acknowledged) < CASES_BEFORE_THE_DUMP + 1:  # the writer is under way
                await asyncio.sleep(0.01)
            before_the_dump = list(acknowledged)
            await dump(url, tmp_path / "haven.dump")
            stop.set()
            arrived = await writer
        assert arrived >= 1  # control: commands arrived while the dump ran
    async with restored(server_url, tmp_path / "haven.dump") as copy:
        restored_settings = settings_for(copy, data, key_file, data / "erasures.log")
        code, out, err = await haven(restored_settings, key_file, "db", "upgrade")
        assert code == 0 and "up to date" in out, out + err
        code, out, err = await haven(restored_settings, key_file, "verify")
        assert code == 0, out + err
        assert " 0 findings" in out
        async with serving(restored_settings) as (rt, client):
            report = await verify_store(rt.pool, rt.keyring)  # the function `haven verify` runs
            assert report.ok and report.events >= len(before_the_dump)
            for case_id, name in before_the_dump:
                read = await client.get(f"/v1/cases/{case_id}", headers=who["worker"])
                assert read.status_code == 200, read.text
                assert read.json()["identity"]["preferred_name"] == name


async def test_a_backup_restored_without_its_key_material_reveals_nothing(
    server_url: str, database_url: str, key_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with scratch_database(database_url) as url:
        settings = settings_for(url, data, key_file, data / "erasures.log")
        who = people(LocalIssuer.open(data))
        async with serving(settings) as (_, client):
            case_id, name = await open_case(client, who)
        backup = await dump(url, tmp_path / "haven.dump")
    assert leaks(backup.decode("latin-1"), {"preferred_name": name}) == {}
    async with restored(server_url, tmp_path / "haven.dump") as copy:
        # control: with its key file the same backup reads the canary
        async with serving(settings_for(copy, data, key_file, data / "erasures.log")) as (
            rt,
            client,
        ):
            assert rt.key_mismatches == ()
            read = await client.get(f"/v1/cases/{case_id}", headers=who["worker"])
            assert read.status_code == 200 and name in read.text
        FileKeyProvider(tmp_path / "other-kek").close()  # another deployment's key file
        for missing_or_other in (tmp_path / "missing" / "kek", tmp_path / "other-kek"):
            wrong = settings_for(copy, data, missing_or_other, data / "erasures.log")
            async with started(ServedApp(wrong, verifier_from_settings(wrong))) as answer:
                assert answer == {
                    "type": "lifespan.startup.failed",
                    "message": "KeyMaterialMismatch",
                }
            out = err = ""
            if missing_or_other.name == "kek":  # the command says so too
                code, out, err = await haven(wrong, missing_or_other, "restore-check")
                assert code == 0 and "key material does not match" in err, out + err
            answers: list[httpx.Response] = []
            async with serving(wrong) as (rt, client):  # were the start-up check bypassed
                assert rt.key_mismatches == (ORG,)
                for path in (f"/v1/cases/{case_id}", f"/v1/cases/{case_id}/history", "/v1/cases"):
                    answers.append(await client.get(path, headers=who["worker"]))
            assert all(answer.status_code != 200 or name not in answer.text for answer in answers)
            assert leaks("\n".join(a.text for a in answers) + out + err, {"name": name}) == {}


@pytest.mark.slow
async def test_an_erasure_after_the_backup_is_not_resurrected_by_a_restore(
    server_url: str, database_url: str, key_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    erasures = data / "erasures.log"
    async with scratch_database(database_url) as url:
        settings = settings_for(url, data, key_file, erasures)
        who = people(LocalIssuer.open(data))
        async with serving(settings) as (_, client):
            erased, erased_name = await open_case(client, who)
            kept, kept_name = await open_case(client, who)
            await dump(url, tmp_path / "haven.dump")  # the backup, before the erasure
            gone = await client.delete(f"/v1/cases/{erased}", headers=who["privacy"])
            assert gone.status_code == 204, gone.text
    listed = erasures.read_text()
    assert [set(json.loads(line)) for line in listed.splitlines()] == [
        {"organisation", "case", "erased_at"}  # ids and a date, never content
    ]
    assert erased in listed and leaks(listed, {"erased": erased_name, "kept": kept_name}) == {}
    async with restored(server_url, tmp_path / "haven.dump") as copy:
        restored_settings = settings_for(copy, data, key_file, erasures)
        async with serving(restored_settings) as (rt, client):
            # dry control: against an empty list the restored database still holds the case
            dry = await check_erasures(rt, ErasureList(tmp_path / "empty.log"))
            assert dry.erased_again == []
            read = await client.get(f"/v1/cases/{erased}", headers=who["worker"])
            assert read.status_code == 200 and erased_name in read.text
        code, out, err = await haven(restored_settings, key_file, "restore-check")
        assert code == 0, out + err
        assert f"erased again  {ORG}/{erased}" in out
        assert "1 erasures listed, 1 erased again" in out
        assert leaks(out + err, {"erased": erased_name, "kept": kept_name}) == {}
        code, out, err = await haven(restored_settings, key_file, "restore-check")
        assert code == 0 and "0 erased again" in out, out + err  # idempotent
        async with serving(restored_settings) as (_, client):
            answer = await client.get(f"/v1/cases/{erased}", headers=who["worker"])
            assert answer.status_code == 404 and erased_name not in answer.text
            kept_read = await client.get(f"/v1/cases/{kept}", headers=who["worker"])
            assert kept_read.status_code == 200 and kept_name in kept_read.text
    async with restored(server_url, tmp_path / "haven.dump") as copy:  # the server's start-up
        restored_settings = settings_for(copy, data, key_file, erasures)
        served = ServedApp(restored_settings, verifier_from_settings(restored_settings))
        async with started(served) as answer:
            assert answer["type"] == "lifespan.startup.complete", answer
            transport = httpx.ASGITransport(app=served)
            async with httpx.AsyncClient(transport=transport, base_url="http://haven") as client:
                first = await client.get(f"/v1/cases/{erased}", headers=who["worker"])
                assert first.status_code == 404 and erased_name not in first.text
                control = await client.get(f"/v1/cases/{kept}", headers=who["worker"])
                assert control.status_code == 200 and kept_name in control.text


async def test_the_check_lists_erasures_the_database_shows_and_the_list_lacks(
    database_url: str, key_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    async with scratch_database(database_url) as url:
        settings = settings_for(url, data, key_file, data / "erasures.log")
        who = people(LocalIssuer.open(data))
        async with serving(settings) as (rt, client):
            case_id, _ = await open_case(client, who)
            await rt.store.shred(ORG, uuid.UUID(case_id))  # erased without the list
            result = await check_erasures(rt)
            assert [(e.organisation_id, str(e.case_id)) for e in result.added_to_list] == [
                (ORG, case_id)
            ]
            again = await check_erasures(rt)
            assert again.added_to_list == [] and again.listed == 1  # control: listed once


def test_a_torn_last_line_is_skipped_and_counted(tmp_path: Path) -> None:
    erasures = ErasureList(tmp_path / "erasures.log")
    whole = listed_now("org-a", uuid.uuid4())
    erasures.append([whole])
    with (tmp_path / "erasures.log").open("ab") as torn:
        torn.write(b'{"organisation":"org-a","ca')  # a crash in the middle of an append
    after = listed_now("org-b", uuid.uuid4())
    erasures.append([after])  # on a line of its own, not glued to the torn one
    listing = erasures.read()
    assert listing.unreadable_lines == 1
    assert listing.erasures == [
        ListedErasure(e.organisation_id, e.case_id, e.erased_at.replace(microsecond=0))
        for e in (whole, after)
    ]
    assert (tmp_path / "erasures.log").stat().st_mode & 0o777 == 0o600
