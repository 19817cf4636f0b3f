"""The servers `haven bench http` measures: granian on a free loopback port, as `haven serve`
runs it, serving either the API (`services.api.asgi:build`) or the raw routes it is compared
with (`services.bench.raw_app:build`), with the same command line, environment and workers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

import aiohttp

API_FACTORY = "services.api.asgi:build"
RAW_FACTORY = "services.bench.raw_app:build"
READY_ATTEMPTS = 600  # x 0.1 s for the server to answer /ready


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def granian_command(factory: str, port: int, workers: int) -> list[str]:
    """The server's command line: only `factory` tells the API and the raw app apart."""
    return [
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
        factory,
    ]


@contextlib.contextmanager
def served(
    factory: str, env: Mapping[str, str], port: int, workers: int, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """granian serving `factory`; stopped (SIGTERM) on exit."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            granian_command(factory, port, workers),
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


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


async def wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession(base_url) as session:
        for _ in range(READY_ATTEMPTS):
            if process.poll() is not None:
                raise RuntimeError("the server exited at start-up:\n" + log_tail(log))
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get("/ready") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError("the server never became ready:\n" + log_tail(log))


def cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """CPU time (user and system) the server has used so far: its main process and its
    workers (children), from /proc; 0.0 where there is no /proc."""
    pids = {process.pid}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and _stat(int(entry.name))[1] in pids:
                pids.add(int(entry.name))
    ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    return sum(_stat(pid)[0] for pid in pids) / ticks


def _stat(pid: int) -> tuple[int, int]:
    """(user + system clock ticks, parent pid) of a process; (0, 0) if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0, 0
    return int(fields[11]) + int(fields[12]), int(fields[1])
