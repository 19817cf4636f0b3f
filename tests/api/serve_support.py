"""`haven serve` as a process, as an operator starts it, for tests of the real server."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


@contextlib.contextmanager
def haven_serve(env: dict[str, str], log: Path, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """`haven serve OPTIONS` until the block ends; then Ctrl-C (SIGINT) and a bounded wait."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "services.cli", "serve", *options],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=REPOSITORY,
        )
        try:
            yield process
        finally:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
