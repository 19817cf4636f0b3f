"""The real server: granian serving `services.api.asgi:build` over a socket on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.api.asgi import ServedApp
from services.bench.scratch import scratch_database
from services.identity import LocalIssuer, verifier_from_settings
from services.settings import Settings

READY_ATTEMPTS = 300  # x 0.1 s: bounded, never a timing assertion


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def granian(port: int, env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    granian_bin = Path(sys.executable).with_name("granian")
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                str(granian_bin),
                "--interface",
                "asgi",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-ws",
                "services.api.asgi:build",
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=Path(__file__).resolve().parents[2],
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


async def until_ready(
    client: httpx.AsyncClient, process: subprocess.Popen[bytes], log: Path
) -> None:
    """Wait (bounded by attempts, never by a timing assertion) until the server answers /ready."""
    for _ in range(READY_ATTEMPTS):
        assert process.poll() is None, log.read_text(errors="replace")[-2000:]
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/ready")).status_code == 200:
                return
        await asyncio.sleep(0.1)
    pytest.fail("the server never became ready: " + log.read_text(errors="replace")[-2000:])


async def test_granian_serves_health_ready_and_whoami(server_url: str, tmp_path: Path) -> None:
    """The server on a database of its own: at start-up it checks that its key material opens
    the database's keys, which another test's keys in a shared database would fail."""
    async with scratch_database(server_url) as database_url:
        await serve_health_ready_and_whoami(database_url, tmp_path)


async def serve_health_ready_and_whoami(database_url: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    token = LocalIssuer.open(data_dir).mint(
        "user-7", "org-b", ["supervisor"]
    )  # the server reads this key
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("HAVEN_")},
        "HAVEN_DATABASE_URL": database_url,
        "HAVEN_DATA_DIR": str(data_dir),
        "HAVEN_KEK": f"file:{tmp_path / 'kek'}",
    }
    port = free_port()
    log = tmp_path / "granian.log"
    with granian(port, env, log) as process:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
            await until_ready(client, process, log)
            health = await client.get("/health")
            assert health.status_code == 200 and health.json() == {"status": "ok"}
            assert len(health.headers["x-request-id"]) == 32
            me = await client.get("/v1/whoami", headers={"Authorization": f"Bearer {token}"})
            assert me.status_code == 200
            assert me.json() == {
                "user_id": "user-7",
                "organisation_id": "org-b",
                "roles": ["supervisor"],
                "team": "default",
            }
            refused = await client.get("/v1/whoami")
            assert refused.status_code == 401
            assert refused.headers["content-type"].startswith("application/problem+json")
    assert process.returncode is not None
    served = log.read_text(errors="replace")
    assert token not in served
    assert '"route": "/v1/whoami"' in served or '"route":"/v1/whoami"' in served


def walked_by_the_collector(thing: object) -> bool:
    return any(tracked is thing for tracked in gc.get_objects())


async def test_a_started_server_keeps_its_start_up_heap_out_of_full_collections(
    server_url: str, tmp_path: Path
) -> None:
    """A full collection of a serving worker walks only what was allocated since start-up: the
    app, its routes and the runtime are frozen once started (`asgi.freeze_start_up_heap`), so
    a full collection under load does not hold every request for tens of milliseconds.
    Control: once the server has shut down, the same app is walked again."""
    async with scratch_database(server_url) as url:
        settings = Settings.from_environ(
            {
                "HAVEN_DATABASE_URL": url,
                "HAVEN_DATA_DIR": str(tmp_path / "data"),
                "HAVEN_KEK": f"file:{tmp_path / 'kek'}",
            }
        )
        served = ServedApp(settings, verifier_from_settings(settings))
        inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
        lifespan = asyncio.create_task(served({"type": "lifespan"}, inbox.get, outbox.put))
        await inbox.put({"type": "lifespan.startup"})
        try:
            assert (await outbox.get())["type"] == "lifespan.startup.complete"
            app = served._app
            assert app is not None
            assert gc.get_freeze_count() > 0
            assert not walked_by_the_collector(app)
        finally:
            await inbox.put({"type": "lifespan.shutdown"})
            await lifespan
            gc.unfreeze()  # whatever happened, the rest of the suite runs with an ordinary heap
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        assert walked_by_the_collector(app)  # the control: a heap handed back is walked again
