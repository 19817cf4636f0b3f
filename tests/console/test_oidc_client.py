"""`services.console.oidc` on its own: PKCE, and discovery kept and refreshed (against the
real provider of `tests.console.oidc_provider`)."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from services.console.oidc import (
    DISCOVERY_MAX_AGE,
    RETRY_INTERVAL,
    Flow,
    OidcClient,
    ProviderUnavailable,
    SignInRefused,
    code_challenge,
    secure_url,
)
from tests.console.oidc_provider import CLIENT_ID, OidcProvider

CALLBACK = "http://testserver/console/sign-in/callback"


class Monotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def idp() -> Iterator[OidcProvider]:
    with OidcProvider(redirect_uri=CALLBACK) as provider:
        yield provider


def client_of(issuer: str, monotonic: Monotonic | None = None) -> OidcClient:
    return OidcClient(
        issuer=issuer,
        client_id=CLIENT_ID,
        redirect_uri=CALLBACK,
        monotonic=monotonic or Monotonic(),
    )


def test_the_s256_challenge_is_rfc_7636s() -> None:
    # RFC 7636, Appendix B
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert code_challenge(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_each_flow_has_secrets_of_its_own_within_pkces_lengths() -> None:
    flows = [Flow.new() for _ in range(3)]
    assert len({part for flow in flows for part in flow}) == 9
    assert all(43 <= len(flow.code_verifier) <= 128 for flow in flows)
    assert all(len(flow.state) >= 43 and len(flow.nonce) >= 43 for flow in flows)


@pytest.mark.parametrize(
    ("url", "secure"),
    [
        ("https://id.example/authorize", True),
        ("http://127.0.0.1:8080/token", True),
        ("http://localhost/token", True),
        ("http://id.example/token", False),
        ("https:///token", False),
        ("javascript:alert(1)", False),
        (None, False),
    ],
)
def test_only_https_endpoints_or_the_loopback_interface_are_used(url, secure) -> None:
    assert secure_url(url) is secure


async def test_discovery_is_kept_and_fetched_again_when_old(idp) -> None:
    monotonic = Monotonic()
    client = client_of(idp.issuer, monotonic)
    first = await client.provider()
    assert await client.provider() is first and idp.discovery_hits == 1
    monotonic.now += DISCOVERY_MAX_AGE
    assert await client.provider() == first and idp.discovery_hits == 2


async def test_an_outage_keeps_the_known_endpoints_and_is_not_hammered(idp) -> None:
    monotonic = Monotonic()
    with OidcProvider(redirect_uri=CALLBACK) as brief:
        client = client_of(brief.issuer, monotonic)
        known = await client.provider()
    monotonic.now += DISCOVERY_MAX_AGE
    assert await client.provider() == known  # the provider is gone: what was known stays
    never = client_of(brief.issuer, monotonic)
    with pytest.raises(ProviderUnavailable):
        await never.provider()
    with pytest.raises(ProviderUnavailable):  # within RETRY_INTERVAL: not asked again
        await never.provider()
    monotonic.now += RETRY_INTERVAL
    assert (await client_of(idp.issuer, monotonic).provider()).issuer == idp.issuer  # control


@pytest.mark.parametrize(
    "changes",
    [
        {"token_endpoint": "http://id.example/token"},
        {"authorization_endpoint": None},
        {"jwks_uri": 42},
    ],
)
async def test_a_discovery_document_with_unusable_endpoints_is_refused(idp, changes) -> None:
    assert (await client_of(idp.issuer).provider()).issuer == idp.issuer  # control
    idp.discovery_changes = changes
    with pytest.raises(SignInRefused) as refused:
        await client_of(idp.issuer).provider()
    assert refused.value.reason == "discovery-invalid"


async def test_an_issuer_that_is_not_https_is_refused() -> None:
    with pytest.raises(SignInRefused) as refused:
        await client_of("http://id.example").provider()
    assert refused.value.reason == "discovery-insecure-url"


async def test_the_authorisation_url_keeps_the_endpoints_own_query(idp) -> None:
    idp.discovery_changes = {"authorization_endpoint": f"{idp.issuer}/authorize?tenant=t1"}
    client = client_of(idp.issuer)
    url = client.authorization_url(await client.provider(), Flow.new())
    query = parse_qs(urlsplit(url).query)
    assert query["tenant"] == ["t1"] and query["code_challenge_method"] == ["S256"]
