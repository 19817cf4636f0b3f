"""KEK versions in the HSM provider against a real SoftHSM2 token: rotate, learn, retire."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from pkcs11 import Attribute

from crypto.errors import DecryptionError, KeyProviderError
from crypto.pkcs11 import Pkcs11KeyProvider
from crypto.pkcs11_uri import parse_pkcs11_uri
from tests.crypto.softhsm import SoftHsmToken
from tests.crypto.test_pkcs11 import kek_objects, plain_session

CONTEXT = b"stream:0002:key:2"


@pytest.fixture
def provider(softhsm_token: SoftHsmToken) -> Iterator[Pkcs11KeyProvider]:
    instance = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    yield instance
    instance.close()


def test_rotate_makes_a_sealed_new_version_active_and_the_old_still_unwraps(
    provider: Pkcs11KeyProvider, softhsm_token: SoftHsmToken
) -> None:
    tenant, data_key = f"org-{uuid.uuid4().hex}", os.urandom(32)
    old_id, old_wrapped = provider.wrap(tenant, data_key, CONTEXT)
    assert provider.active_kek_id(tenant) == old_id  # control: one version before

    new_id = provider.rotate(tenant)

    assert new_id != old_id and provider.active_kek_id(tenant) == new_id
    kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
    assert kek_id == new_id
    assert provider.unwrap(tenant, old_id, old_wrapped, CONTEXT) == data_key
    assert provider.unwrap(tenant, new_id, wrapped, CONTEXT) == data_key
    assert [(v.kek_id, v.state) for v in provider.versions(tenant)] == [
        (old_id, "retiring"),
        (new_id, "active"),
    ]
    assert provider.versions(tenant)[1].created is not None
    objects = kek_objects(plain_session(provider, softhsm_token), tenant)
    assert len(objects) == 2
    for key in objects:
        assert key[Attribute.SENSITIVE] and not key[Attribute.EXTRACTABLE]


def test_a_process_started_before_the_rotation_learns_the_new_version(
    softhsm_token: SoftHsmToken,
) -> None:
    tenant, data_key = f"org-{uuid.uuid4().hex}", os.urandom(32)
    running = Pkcs11KeyProvider(parse_pkcs11_uri(softhsm_token.uri()), current_seconds=0.0)
    administrator = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    try:
        old_id, _ = running.wrap(tenant, data_key, CONTEXT)  # control: before the rotation
        new_id = administrator.rotate(tenant)
        _, wrapped = administrator.wrap(tenant, data_key, CONTEXT)
        assert running.unwrap(tenant, new_id, wrapped, CONTEXT) == data_key
        assert running.wrap(tenant, data_key, CONTEXT)[0] == new_id != old_id
    finally:
        running.close()
        administrator.close()


def test_retire_destroys_the_old_object_and_refuses_the_active_one(
    provider: Pkcs11KeyProvider, softhsm_token: SoftHsmToken
) -> None:
    tenant, data_key = f"org-{uuid.uuid4().hex}", os.urandom(32)
    old_id, old_wrapped = provider.wrap(tenant, data_key, CONTEXT)
    with pytest.raises(KeyProviderError, match="active"):
        provider.retire(tenant, old_id)  # control: the active version stays
    new_id = provider.rotate(tenant)

    provider.retire(tenant, old_id)

    assert len(kek_objects(plain_session(provider, softhsm_token), tenant)) == 1
    with pytest.raises(DecryptionError):
        provider.unwrap(tenant, old_id, old_wrapped, CONTEXT)
    assert [(v.kek_id, v.state) for v in provider.versions(tenant)] == [
        (new_id, "active"),
        (old_id, "retired"),
    ]
    with pytest.raises(KeyProviderError, match="active"):
        provider.retire(tenant, new_id)
