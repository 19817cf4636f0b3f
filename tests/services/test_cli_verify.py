"""`haven verify` as a real process: a summary, exit 0 on a sound store, exit 1 on tampering,
and nothing of a case's content in its output."""

from __future__ import annotations

import subprocess
import sys
import uuid

from domain.event import EventMetadata
from tests.events.sample_events import NoteAdded
from tests.services.test_database_paths import REPOSITORY, haven_env

SECRET = "synthetic-secret-note-7f3a"


def run_verify(database_url, key_file, tmp_path):
    env = haven_env(
        HAVEN_DATABASE_URL=database_url, HAVEN_KEK=f"file:{key_file}", HAVEN_DATA_DIR=str(tmp_path)
    )
    return subprocess.run(
        [sys.executable, "-m", "services.cli", "verify"],
        cwd=REPOSITORY,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


async def test_verify_exits_non_zero_on_tampering_and_never_prints_content(
    store, database_url, key_file, tmp_path
):
    stream = uuid.uuid4()
    await store.append(
        "org-a",
        stream,
        0,
        [NoteAdded(text=SECRET), NoteAdded(text="second")],
        EventMetadata(actor_id="worker-1"),
    )

    sound = run_verify(database_url, key_file, tmp_path)
    assert sound.returncode == 0, sound.stderr  # control
    assert "1 streams (0 erased), 2 events, 0 findings" in sound.stdout

    await store.pool.execute(
        "DELETE FROM haven.events WHERE stream_id = $1 AND version = 2", stream
    )
    tampered = run_verify(database_url, key_file, tmp_path)
    assert tampered.returncode == 1
    assert f"TAMPERED  org-a/{stream}" in tampered.stdout
    assert SECRET not in tampered.stdout + tampered.stderr
