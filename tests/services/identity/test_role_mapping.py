"""An external provider's groups become Haven's roles by configuration: `HAVEN_OIDC_ROLE_CLAIM`
names the claim, `HAVEN_OIDC_ROLE_MAP` the mapping file. Real signed tokens, verified by the
verifier `haven serve` builds from its settings, its keys from a real JWKS endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from services.identity import TokenVerifier, verifier_from_settings
from services.identity.role_map import RoleMapError
from services.settings import Settings, SettingsError
from tests.services.identity.forge import NOW, claims, refused, signed
from tests.services.identity.jwks_server import JwksServer

ISSUER = "https://idp.example/realms/agency"
AUDIENCE = "haven-api"
GROUPS = {
    "groups": {
        "HT Case Workers": "caseworker",
        "HT Supervisors": ["supervisor", "caseworker"],
        "HT Records": [],
    }
}


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def server(key: ec.EllipticCurvePrivateKey) -> Iterator[JwksServer]:
    public = ECAlgorithm.to_jwk(key.public_key(), as_dict=True)
    with JwksServer() as running:
        running.document = {"keys": [{**public, "kid": "agency-1", "use": "sig"}]}
        yield running


def environ(server: JwksServer, tmp_path: Path, **extra: str) -> dict[str, str]:
    return {
        "HAVEN_DATA_DIR": str(tmp_path),
        "HAVEN_OIDC_ISSUER": ISSUER,
        "HAVEN_OIDC_AUDIENCE": AUDIENCE,
        "HAVEN_OIDC_JWKS_URL": server.url,
        **extra,
    }


def mapped_verifier(
    server: JwksServer, tmp_path: Path, document: Any, name: str, claim: str
) -> TokenVerifier:
    path = tmp_path / name
    path.write_text(document if isinstance(document, str) else json.dumps(document))
    settings = Settings.from_environ(
        environ(server, tmp_path, HAVEN_OIDC_ROLE_CLAIM=claim, HAVEN_OIDC_ROLE_MAP=str(path))
    )
    return verifier_from_settings(settings, clock=lambda: NOW + 60)


def token(key: ec.EllipticCurvePrivateKey, **overrides: Any) -> str:
    payload = claims(issuer=ISSUER, audience=AUDIENCE, **{"roles": None, **overrides})
    return signed(key, payload, alg="ES256", kid="agency-1")


async def test_mapped_groups_grant_their_haven_roles(
    key: ec.EllipticCurvePrivateKey, server: JwksServer, tmp_path: Path
) -> None:
    verifier = mapped_verifier(server, tmp_path, GROUPS, "roles.json", "groups")
    principal = await verifier.verify(token(key, groups=["Staff", "HT Supervisors"]))
    assert principal.roles == {"supervisor", "caseworker"}
    assert principal.organisation_id == "org-a" and principal.user_id == "worker-1"
    worker = await verifier.verify(token(key, groups=["HT Case Workers"], sub="worker-2"))
    assert worker.roles == {"caseworker"}


async def test_attack_a_group_the_map_does_not_name_grants_no_role(
    key: ec.EllipticCurvePrivateKey, server: JwksServer, tmp_path: Path
) -> None:
    """A token whose groups the map does not name, or that names Haven's roles as groups,
    or carries Haven's own ``roles`` claim beside unmapped groups, gets no role and is
    refused; a group mapped to no role grants none."""
    verifier = mapped_verifier(server, tmp_path, GROUPS, "roles.json", "groups")
    for groups in (["Domain Admins"], ["admin"], ["ht case workers"], ["HT Records"], []):
        assert await refused(verifier, token(key, groups=groups)) == "missing-claims", groups
    smuggled = token(key, groups=["Domain Admins"], roles=["admin"])
    assert await refused(verifier, smuggled) == "missing-claims"
    assert await refused(verifier, token(key)) == "missing-claims"  # no group claim at all
    assert await refused(verifier, token(key, groups="HT Case Workers")) == "invalid-claims"
    # control: the same token with a mapped group is let in, with that group's role only
    control = await verifier.verify(token(key, groups=["Domain Admins", "HT Case Workers"]))
    assert control.roles == {"caseworker"}


async def test_a_toml_map_and_a_nested_claim(
    key: ec.EllipticCurvePrivateKey, server: JwksServer, tmp_path: Path
) -> None:
    document = '[groups]\n"agency-admins" = "admin"\n"agency-privacy" = ["privacy_officer"]\n'
    verifier = mapped_verifier(server, tmp_path, document, "roles.toml", "realm_access.roles")
    nested = token(key, realm_access={"roles": ["agency-admins", "offline_access"]})
    assert (await verifier.verify(nested)).roles == {"admin"}
    # a claim whose whole name has dots is read by that name first
    dotted = mapped_verifier(server, tmp_path, GROUPS, "map.json", "https://idp.example/groups")
    named = token(key, **{"https://idp.example/groups": ["HT Case Workers"]})
    assert (await dotted.verify(named)).roles == {"caseworker"}


async def test_without_a_map_the_claim_names_haven_roles_as_before(
    key: ec.EllipticCurvePrivateKey, server: JwksServer, tmp_path: Path
) -> None:
    settings = Settings.from_environ(environ(server, tmp_path, HAVEN_OIDC_ROLE_CLAIM="groups"))
    verifier = verifier_from_settings(settings, clock=lambda: NOW + 60)
    assert (await verifier.verify(token(key, groups=["reporter", "other-app"]))).roles == {
        "reporter"
    }
    assert await refused(verifier, token(key, groups=["HT Case Workers"])) == "missing-claims"


def test_the_settings_refuse_a_mapping_without_a_provider_or_a_file(tmp_path: Path) -> None:
    local = {"HAVEN_DATA_DIR": str(tmp_path)}
    with pytest.raises(SettingsError, match="need HAVEN_OIDC_ISSUER"):
        Settings.from_environ({**local, "HAVEN_OIDC_ROLE_CLAIM": "groups"})
    with pytest.raises(SettingsError, match="need HAVEN_OIDC_ISSUER"):
        Settings.from_environ({**local, "HAVEN_OIDC_ROLE_MAP": str(tmp_path)})
    provider = {
        **local,
        "HAVEN_OIDC_ISSUER": ISSUER,
        "HAVEN_OIDC_AUDIENCE": AUDIENCE,
        "HAVEN_OIDC_JWKS_URL": "https://idp.example/jwks",
    }
    with pytest.raises(SettingsError, match="JSON or TOML file"):
        Settings.from_environ({**provider, "HAVEN_OIDC_ROLE_MAP": str(tmp_path / "absent")})
    default = Settings.from_environ(provider)
    assert (default.oidc_role_claim, default.oidc_role_map) == ("roles", None)


@pytest.mark.parametrize(
    "document",
    [
        {"groups": {"HT Staff": "superuser"}},  # not a Haven role
        {"groups": {"HT Staff": [1]}},
        {"HT Staff": "caseworker"},  # no `groups` table
        "{not json",
    ],
)
def test_a_malformed_map_stops_the_start(server: JwksServer, tmp_path: Path, document: Any) -> None:
    with pytest.raises(RoleMapError):
        mapped_verifier(server, tmp_path, document, "roles.json", "groups")
