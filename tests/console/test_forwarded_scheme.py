"""Behind a TLS-terminating proxy the console's cookie is `Secure` when the proxy says the
browser used https (`X-Forwarded-Proto`), and only a trusted proxy is believed: the same
header from any other address changes nothing (an attacker could send it)."""

from __future__ import annotations

import contextlib

import httpx
import msgspec

from services.api.app import create_app
from services.api.forwarded import apply_forwarded_scheme
from tests.api.conftest import api_client

HTTPS = {"x-forwarded-proto": "https"}


@contextlib.asynccontextmanager
async def behind(runtime, verifier, settings, trusted: tuple[str, ...]):
    app = create_app(
        runtime=runtime,
        verifier=verifier,
        settings=msgspec.structs.replace(settings, trusted_proxies=trusted),
    )
    async with api_client(app, lifespan=False) as client:  # requests come from 127.0.0.1
        client.headers.update(HTTPS)
        yield client


async def test_a_trusted_proxys_https_makes_the_cookie_secure(runtime, verifier, settings):
    async with behind(runtime, verifier, settings, ("127.0.0.1/32",)) as client:
        page = await client.get("/console/sign-in")  # its session's cookie
        assert "Secure" in page.headers["set-cookie"]


async def test_the_header_from_an_untrusted_address_is_ignored(runtime, verifier, settings):
    """Attack: a client names https itself to be treated as having come over TLS."""
    for trusted in ((), ("10.0.0.0/8",)):
        async with behind(runtime, verifier, settings, trusted) as client:
            page = await client.get("/console/sign-in")
            assert "Secure" not in page.headers["set-cookie"], trusted


def test_only_one_https_or_http_header_is_believed() -> None:
    def scheme(headers: list[tuple[bytes, bytes]]) -> str:
        scope = {"scheme": "http", "client": ("10.1.2.3", 5000), "headers": headers}
        apply_forwarded_scheme(scope, ("10.0.0.0/8",))
        return scope["scheme"]

    assert scheme([(b"x-forwarded-proto", b"https")]) == "https"
    assert scheme([(b"x-forwarded-proto", b"https"), (b"x-forwarded-proto", b"http")]) == "http"
    assert scheme([(b"x-forwarded-proto", b"gopher")]) == "http"
    assert scheme([]) == "http"


def test_the_httpx_client_address_is_loopback() -> None:
    """The premise of the tests above: httpx's ASGI transport reports 127.0.0.1."""
    assert httpx.ASGITransport(app=None).client[0] == "127.0.0.1"  # type: ignore[arg-type]
