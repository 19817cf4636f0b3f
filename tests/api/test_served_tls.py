"""`haven serve` speaking TLS itself (HAVEN_TLS_CERT, HAVEN_TLS_KEY), for a deployment without
a proxy in front: a client that trusts the certificate's CA is served, the console's cookie is
`Secure`; a client that does not trust that CA, or that speaks plain HTTP, is not."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from services.bench.scratch import scratch_database
from services.serve_command import exposure_warning
from tests.api.serve_support import haven_serve
from tests.api.test_served import free_port, until_ready
from tests.services.test_database_paths import haven_env
from tests.tls_support import authority, server_certificate

pytestmark = pytest.mark.slow


async def test_haven_serve_speaks_tls_to_a_client_that_trusts_its_ca(
    server_url: str, tmp_path: Path
) -> None:
    ca = authority(tmp_path / "ca")
    served = server_certificate(ca, tmp_path / "server", ["localhost"], ["127.0.0.1"])
    port = free_port()
    log = tmp_path / "serve.log"
    base_url = f"https://127.0.0.1:{port}"
    async with scratch_database(server_url) as url:
        env = haven_env(
            HAVEN_DATABASE_URL=url,
            HAVEN_DATA_DIR=str(tmp_path / "data"),
            HAVEN_KEK=f"file:{tmp_path / 'kek'}",
            HAVEN_TLS_CERT=str(served.cert),
            HAVEN_TLS_KEY=str(served.key),
        )
        with haven_serve(env, log, "--port", str(port), "--workers", "1") as process:
            async with httpx.AsyncClient(
                base_url=base_url, verify=ca.client_context(), timeout=5.0
            ) as client:
                await until_ready(client, process, log)
                health = await client.get("/health")
                assert health.status_code == 200 and health.json() == {"status": "ok"}
                sign_in = await client.get("/console/sign-in")
                assert sign_in.status_code == 200
                cookie = sign_in.headers["set-cookie"].lower()
                assert "secure" in [part.strip() for part in cookie.split(";")]
            # control: a client that does not trust the CA refuses the server's certificate
            async with httpx.AsyncClient(
                base_url=base_url, verify=ssl.create_default_context(), timeout=5.0
            ) as stranger:
                with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                    await stranger.get("/health")
            # control: plain HTTP to the TLS port gets no answer
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as plain:
                with pytest.raises(httpx.TransportError):
                    await plain.get("/health")
            assert process.poll() is None
    printed = log.read_text(errors="replace")
    assert f"haven: serving on {base_url}" in printed
    assert "WARNING" not in printed


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "haven.example.org"])
def test_serving_tls_beyond_this_machine_is_quiet(host: str) -> None:
    assert exposure_warning(host, tls=True) is None
    assert exposure_warning(host, tls=False) is not None  # control
