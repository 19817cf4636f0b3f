"""`/ready` with a key provider that is missing or holds other keys than the database's."""

from __future__ import annotations

import base64
import json
import shutil
import uuid
from pathlib import Path

from crypto.keyring import Keyring
from crypto.providers import FileKeyProvider
from domain.event import EventMetadata
from domain.retention import RetentionPolicySet
from services.bootstrap import Runtime
from tests.api.conftest import AppFactory, api_client
from tests.api.test_app import assert_problem, only_this_runtimes_keys


async def stored_case(runtime: Runtime) -> None:
    """A stream with a data key wrapped by the runtime's key provider. Its event is one of
    Haven's own types, so that a later rebuild of any projection over this log reads it."""
    await only_this_runtimes_keys(runtime)
    event = RetentionPolicySet(organisation_id="org-ready", erase_after_days=None, set_by="w")
    await runtime.store.append("org-ready", uuid.uuid4(), 0, [event], EventMetadata(actor_id="w"))


async def test_attack_a_wrong_key_file_fails_ready_with_kek_mismatch(
    make_app: AppFactory, runtime: Runtime, tmp_path: Path
) -> None:
    """A server started with another deployment's (or a fresh) key file must not report ready
    and then fail every read."""
    await stored_case(runtime)
    async with api_client(make_app(runtime=runtime)) as client:
        assert (await client.get("/ready")).status_code == 200  # control: the right key file
    wrong_path = tmp_path / "another-kek"
    wrong = FileKeyProvider(wrong_path)  # created afresh: as after a restore without the key
    wrong_runtime = Runtime(runtime.pool, Keyring(wrong), runtime.store)
    async with api_client(make_app(runtime=wrong_runtime)) as client:
        response = await client.get("/ready")
    body = assert_problem(response, 503, "service-unavailable")
    assert body["detail"].startswith("kek-mismatch:")
    for key in json.loads(wrong_path.read_bytes())["keys"].values():
        assert key not in response.text and base64.b64decode(key).hex() not in response.text
    assert "file:k1" not in response.text and "org-ready" not in response.text


async def test_a_missing_key_file_fails_ready_with_kek_unavailable(
    make_app: AppFactory, runtime: Runtime, tmp_path: Path, key_file: Path
) -> None:
    key_path = tmp_path / "kek"
    shutil.copy(key_file, key_path)
    await stored_case(runtime)
    own = Runtime(runtime.pool, Keyring(FileKeyProvider(key_path)), runtime.store)
    async with api_client(make_app(runtime=own)) as client:
        assert (await client.get("/ready")).status_code == 200  # control: the key file is there
        key_path.unlink()
        body = assert_problem(await client.get("/ready"), 503, "service-unavailable")
    assert body["detail"].startswith("kek-unavailable:")
