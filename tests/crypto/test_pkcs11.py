"""Pkcs11KeyProvider against a real SoftHSM2 token (skipped, with a reason, without SoftHSM2)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pkcs11
import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11.exceptions import AttributeSensitive
from pkcs11.types import Session

from crypto.errors import DecryptionError, KeyProviderError
from crypto.pkcs11 import WRAPPED_BYTES, Pkcs11KeyProvider
from crypto.provider_uri import provider_from_uri
from tests.crypto.softhsm import OBJECT_LABEL, SoftHsmToken

PROJECT_ROOT = Path(__file__).resolve().parents[2]
CONTEXT = b"stream:0001:key:1"
PIN_MARKER = "s3cr3t-pin-7319"  # a PIN that must never show up in an error message


def fresh_tenant() -> str:
    """Organisations are per-token state; a fresh id gives a test a KEK nobody else used."""
    return f"org-{uuid.uuid4().hex}"


@pytest.fixture
def provider(softhsm_token: SoftHsmToken) -> Iterator[Pkcs11KeyProvider]:
    instance = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    yield instance
    instance.close()


def plain_session(provider: Pkcs11KeyProvider, token: SoftHsmToken) -> Session:
    """A session without a login of its own. PKCS#11 login state is per process, so after
    `provider.check()` this session sees the private KEK objects too; closing it logs nobody out
    (a session opened with the PIN would log every session out when closed)."""
    provider.check()
    return pkcs11.lib(token.module_path).get_token(token_label=token.label).open(rw=True)


def kek_objects(session: Session, tenant: str) -> list[pkcs11.SecretKey]:
    return list(
        session.get_objects(
            {  # type: ignore[arg-type]
                Attribute.CLASS: ObjectClass.SECRET_KEY,
                Attribute.LABEL: f"{OBJECT_LABEL}:{tenant}",
            }
        )
    )


def run_in_new_process(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    """A new interpreter loads and logs in to the module afresh, like a restarted server."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=PROJECT_ROOT,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- round trip, restart ------------------------------------------------------------------------


def test_wrap_unwrap_round_trip(provider: Pkcs11KeyProvider) -> None:
    tenant, data_key = fresh_tenant(), os.urandom(32)
    kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
    assert kek_id.startswith(f"pkcs11:{OBJECT_LABEL}:{tenant}:")
    assert len(wrapped) == WRAPPED_BYTES and wrapped[0] == 0x01
    assert data_key not in wrapped
    assert provider.unwrap(tenant, kek_id, wrapped, CONTEXT) == data_key


def test_wrapping_twice_uses_fresh_ivs(provider: Pkcs11KeyProvider) -> None:
    tenant, data_key = fresh_tenant(), os.urandom(32)
    first, second = (
        provider.wrap(tenant, data_key, CONTEXT),
        provider.wrap(tenant, data_key, CONTEXT),
    )
    assert first[0] == second[0]  # same KEK
    assert first[1][1:13] != second[1][1:13] and first[1] != second[1]


def test_second_provider_from_same_uri_unwraps(
    softhsm_token: SoftHsmToken, provider: Pkcs11KeyProvider
) -> None:
    tenant, data_key = fresh_tenant(), os.urandom(32)
    kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
    provider.close()
    second = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    try:
        assert second.unwrap(tenant, kek_id, wrapped, CONTEXT) == data_key
        assert (
            second.wrap(tenant, os.urandom(32), CONTEXT)[0] == kek_id
        )  # same KEK object, none new
    finally:
        second.close()


def test_restarted_process_unwraps(
    softhsm_token: SoftHsmToken, provider: Pkcs11KeyProvider
) -> None:
    tenant, data_key = fresh_tenant(), os.urandom(32)
    kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
    result = run_in_new_process(
        "import sys\n"
        "from crypto.pkcs11 import Pkcs11KeyProvider\n"
        "uri, tenant, kek_id, wrapped, context = sys.argv[1:]\n"
        "p = Pkcs11KeyProvider.from_uri(uri)\n"
        "print(p.unwrap(tenant, kek_id, bytes.fromhex(wrapped), bytes.fromhex(context)).hex())\n",
        softhsm_token.uri(),
        tenant,
        kek_id,
        wrapped.hex(),
        CONTEXT.hex(),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == data_key.hex()


def test_closing_one_provider_does_not_log_out_another(softhsm_token: SoftHsmToken) -> None:
    tenant = fresh_tenant()
    first = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    second = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    try:
        kek_id, wrapped = first.wrap(tenant, b"k" * 32, CONTEXT)
        assert second.unwrap(tenant, kek_id, wrapped, CONTEXT) == b"k" * 32
        first.close()
        assert second.unwrap(tenant, kek_id, wrapped, CONTEXT) == b"k" * 32
        assert first.unwrap(tenant, kek_id, wrapped, CONTEXT) == b"k" * 32  # reopens after close
    finally:
        first.close()
        second.close()


def test_concurrent_use_from_threads(
    softhsm_token: SoftHsmToken, provider: Pkcs11KeyProvider
) -> None:
    tenants = [fresh_tenant() for _ in range(3)]
    failures: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for round_ in range(15):
                tenant, data_key = tenants[(index + round_) % 3], os.urandom(32)
                kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
                assert provider.unwrap(tenant, kek_id, wrapped, CONTEXT) == data_key
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=work, args=(index,)) for index in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    session = plain_session(provider, softhsm_token)
    try:
        assert all(
            len(kek_objects(session, tenant)) == 1 for tenant in tenants
        )  # no duplicate KEKs
    finally:
        session.close()


# -- one KEK per organisation, inside the token ---------------------------------------------------


def test_each_organisation_gets_its_own_kek_object(
    softhsm_token: SoftHsmToken, provider: Pkcs11KeyProvider
) -> None:
    org_a, org_b = fresh_tenant(), fresh_tenant()
    kek_a, _ = provider.wrap(org_a, os.urandom(32), CONTEXT)
    kek_b, _ = provider.wrap(org_b, os.urandom(32), CONTEXT)
    assert kek_a != kek_b
    session = plain_session(provider, softhsm_token)
    try:
        [object_a], [object_b] = kek_objects(session, org_a), kek_objects(session, org_b)
        assert object_a[Attribute.ID] != object_b[Attribute.ID]
        assert kek_a.endswith(object_a[Attribute.ID].hex()) and kek_b.endswith(
            object_b[Attribute.ID].hex()
        )
    finally:
        session.close()


def test_kek_object_is_sensitive_and_not_extractable(
    softhsm_token: SoftHsmToken, provider: Pkcs11KeyProvider
) -> None:
    tenant = fresh_tenant()
    provider.wrap(tenant, os.urandom(32), CONTEXT)
    session = plain_session(provider, softhsm_token)
    try:
        [key] = kek_objects(session, tenant)
        assert key.key_type == KeyType.AES and key[Attribute.VALUE_LEN] == 32
        assert key[Attribute.TOKEN] is True and key[Attribute.PRIVATE] is True
        assert key[Attribute.SENSITIVE] is True and key[Attribute.ALWAYS_SENSITIVE] is True
        assert key[Attribute.EXTRACTABLE] is False and key[Attribute.NEVER_EXTRACTABLE] is True
        assert key[Attribute.LOCAL] is True  # generated inside the token, never imported
        assert key[Attribute.WRAP] is False and key[Attribute.UNWRAP] is False
        with pytest.raises(AttributeSensitive):
            key[Attribute.VALUE]
    finally:
        session.close()


def test_other_organisation_cannot_unwrap_a_wrapped_key(provider: Pkcs11KeyProvider) -> None:
    org_a, org_b, data_key = fresh_tenant(), fresh_tenant(), os.urandom(32)
    kek_a, wrapped = provider.wrap(org_a, data_key, CONTEXT)
    kek_b, _ = provider.wrap(org_b, os.urandom(32), CONTEXT)
    with pytest.raises(DecryptionError):
        provider.unwrap(org_b, kek_a, wrapped, CONTEXT)  # A's key id claimed by B
    with pytest.raises(DecryptionError):
        provider.unwrap(org_b, kek_b, wrapped, CONTEXT)  # under B's own KEK
    assert provider.unwrap(org_a, kek_a, wrapped, CONTEXT) == data_key  # control


@pytest.mark.parametrize("offset", [0, 1, 12, 13, 44, 45, WRAPPED_BYTES - 1])
def test_wrapped_key_with_flipped_byte_is_rejected(
    provider: Pkcs11KeyProvider, offset: int
) -> None:
    tenant, data_key = fresh_tenant(), os.urandom(32)
    kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
    tampered = bytearray(wrapped)
    tampered[offset] ^= 0x01
    with pytest.raises(DecryptionError):
        provider.unwrap(tenant, kek_id, bytes(tampered), CONTEXT)
    assert provider.unwrap(tenant, kek_id, wrapped, CONTEXT) == data_key  # control


@pytest.mark.parametrize("length", [0, 1, 13, 29, WRAPPED_BYTES - 1, WRAPPED_BYTES + 1])
def test_truncated_or_extended_wrapped_key_is_rejected(
    provider: Pkcs11KeyProvider, length: int
) -> None:
    tenant, data_key = fresh_tenant(), os.urandom(32)
    kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
    with pytest.raises(DecryptionError):
        provider.unwrap(tenant, kek_id, (wrapped + b"\x00")[:length], CONTEXT)
    assert provider.unwrap(tenant, kek_id, wrapped, CONTEXT) == data_key  # control


def test_wrapped_key_moved_to_another_stream_is_rejected(provider: Pkcs11KeyProvider) -> None:
    tenant, data_key = fresh_tenant(), os.urandom(32)
    kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
    with pytest.raises(DecryptionError):
        provider.unwrap(tenant, kek_id, wrapped, b"stream:0002:key:1")
    assert provider.unwrap(tenant, kek_id, wrapped, CONTEXT) == data_key  # control


def test_forged_kek_id_is_rejected(provider: Pkcs11KeyProvider) -> None:
    tenant, data_key = fresh_tenant(), os.urandom(32)
    kek_id, wrapped = provider.wrap(tenant, data_key, CONTEXT)
    prefix = f"pkcs11:{OBJECT_LABEL}:{tenant}:"
    for forged in (
        "file:k1",
        prefix,
        prefix + "zz",
        prefix + "00" * 16,
        f"pkcs11:other:{tenant}:" + kek_id[len(prefix) :],
    ):
        with pytest.raises(DecryptionError):
            provider.unwrap(tenant, forged, wrapped, CONTEXT)
    assert provider.unwrap(tenant, kek_id, wrapped, CONTEXT) == data_key  # control


def test_decryption_errors_do_not_say_why(provider: Pkcs11KeyProvider) -> None:
    tenant = fresh_tenant()
    kek_id, wrapped = provider.wrap(tenant, os.urandom(32), CONTEXT)
    messages = set()
    for args in (
        (tenant, "file:k1", wrapped),
        (tenant, kek_id, wrapped[:-1]),
        (tenant, kek_id, wrapped[:-1] + bytes([wrapped[-1] ^ 1])),  # its last byte changed
    ):
        with pytest.raises(DecryptionError) as caught:
            provider.unwrap(*args, CONTEXT)
        error = caught.value  # no chained PKCS#11 error in logs or tracebacks either
        assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
        messages.add(str(caught.value))
    assert len(messages) == 1


def test_duplicate_kek_objects_from_racing_creators_resolve_to_one(
    softhsm_token: SoftHsmToken,
) -> None:
    """Two processes creating an organisation's KEK at once leave two objects with one label."""
    tenant = fresh_tenant()
    first = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    session = plain_session(first, softhsm_token)
    template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.ENCRYPT: True,
        Attribute.DECRYPT: True,
    }
    try:
        label = f"{OBJECT_LABEL}:{tenant}"
        session.generate_key(
            KeyType.AES, 256, id=b"\xff" * 16, label=label, store=True, template=template
        )
        kek_first, wrapped_first = first.wrap(tenant, b"1" * 32, CONTEXT)  # only one object yet
        # The racing creator's object appears later, with a smaller id.
        session.generate_key(
            KeyType.AES, 256, id=b"\x01" * 16, label=label, store=True, template=template
        )
        second = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
        third = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
        kek_second, wrapped_second = second.wrap(tenant, b"2" * 32, CONTEXT)
        assert (
            kek_second.endswith("01" * 16)
            and third.wrap(tenant, b"3" * 32, CONTEXT)[0] == kek_second
        )
        # Nothing wrapped under either object is lost.
        assert second.unwrap(tenant, kek_first, wrapped_first, CONTEXT) == b"1" * 32
        assert first.unwrap(tenant, kek_second, wrapped_second, CONTEXT) == b"2" * 32
        second.close()
        third.close()
    finally:
        first.close()
        session.close()


def test_extractable_key_object_with_the_kek_label_is_refused(softhsm_token: SoftHsmToken) -> None:
    tenant = fresh_tenant()
    provider = Pkcs11KeyProvider.from_uri(softhsm_token.uri())
    session = plain_session(provider, softhsm_token)
    try:
        session.generate_key(
            KeyType.AES,
            256,
            id=b"\x02" * 16,
            label=f"{OBJECT_LABEL}:{tenant}",
            store=True,
            template={
                Attribute.TOKEN: True,
                Attribute.SENSITIVE: False,
                Attribute.EXTRACTABLE: True,
            },
        )
        with pytest.raises(KeyProviderError, match="non-extractable"):
            provider.wrap(tenant, os.urandom(32), CONTEXT)
        assert provider.wrap(fresh_tenant(), os.urandom(32), CONTEXT)  # control
    finally:
        provider.close()
        session.close()


# -- configuration and readiness -----------------------------------------------------------------


def test_check_passes_on_a_good_token(provider: Pkcs11KeyProvider) -> None:
    provider.check()
    provider.check()  # reuses the session


def test_check_rejects_an_unknown_token_label(softhsm_token: SoftHsmToken) -> None:
    provider = Pkcs11KeyProvider.from_uri(softhsm_token.uri(token="no-such-token"))
    with pytest.raises(KeyProviderError, match="no-such-token") as caught:
        provider.check()
    assert softhsm_token.pin not in str(caught.value)
    with pytest.raises(KeyProviderError):
        provider.wrap(fresh_tenant(), os.urandom(32), CONTEXT)
    with pytest.raises(DecryptionError):
        provider.unwrap(
            "org-x", f"pkcs11:{OBJECT_LABEL}:org-x:" + "00" * 16, b"\x01" * WRAPPED_BYTES, CONTEXT
        )


def test_check_rejects_a_missing_module(softhsm_token: SoftHsmToken) -> None:
    provider = Pkcs11KeyProvider.from_uri(
        softhsm_token.uri(module_path="/nonexistent/libpkcs11.so")
    )
    with pytest.raises(KeyProviderError) as caught:
        provider.check()
    assert softhsm_token.pin not in str(caught.value)


def test_wrong_pin_is_rejected_without_showing_it(
    softhsm_token: SoftHsmToken, tmp_path: Path
) -> None:
    # Login state is per process, so a wrong PIN is only detectable in a process not yet logged in.
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN_MARKER + "\n")
    pin_file.chmod(0o600)
    uri = softhsm_token.uri(pin_source=False) + f"&pin-source=file:{pin_file}"
    result = run_in_new_process(
        "import sys\n"
        "from crypto.errors import KeyProviderError\n"
        "from crypto.pkcs11 import Pkcs11KeyProvider\n"
        "try:\n"
        "    Pkcs11KeyProvider.from_uri(sys.argv[1]).check()\n"
        "except KeyProviderError as error:\n"
        "    print('rejected:', error)\n",
        uri,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("rejected:") and "PinIncorrect" in result.stdout
    assert PIN_MARKER not in result.stdout + result.stderr


def test_provider_from_uri_builds_a_pkcs11_provider(softhsm_token: SoftHsmToken) -> None:
    provider = provider_from_uri(softhsm_token.uri())
    try:
        assert isinstance(provider, Pkcs11KeyProvider)
        provider.check()
    finally:
        provider.close()


def test_uri_values_are_percent_decoded_and_unknown_attributes_ignored(
    softhsm_token: SoftHsmToken,
) -> None:
    uri = (
        "pkcs11:manufacturer=SoftHSM%20project;token=haven%2Dtest;serial=0;object=haven%2Dkek;type=secret-key"
        f"?module-name=softhsm2&module-path={softhsm_token.module_path}&pin-source=file:{softhsm_token.pin_file}"
    )
    provider = Pkcs11KeyProvider.from_uri(uri)
    try:
        provider.check()
        tenant = fresh_tenant()
        assert provider.wrap(tenant, os.urandom(32), CONTEXT)[0].startswith(
            f"pkcs11:haven-kek:{tenant}:"
        )
    finally:
        provider.close()


def test_pin_value_in_uri_is_accepted(softhsm_token: SoftHsmToken) -> None:
    provider = Pkcs11KeyProvider.from_uri(
        softhsm_token.uri(pin_source=False) + f"&pin-value={softhsm_token.pin}"
    )
    try:
        provider.check()
    finally:
        provider.close()


_M = "module-path=/usr/lib/libexample.so"


@pytest.mark.parametrize(
    "uri",
    [
        f"file:/tmp/kek?pin-value={PIN_MARKER}",  # not pkcs11:
        f"pkcs11:object=k?{_M}&pin-value={PIN_MARKER}",  # no token
        f"pkcs11:token=t?{_M}&pin-value={PIN_MARKER}",  # no object
        f"pkcs11:token=;object=k?{_M}&pin-value={PIN_MARKER}",  # empty token
        f"pkcs11:token=t;object=k?pin-value={PIN_MARKER}",  # no module-path
        # module-path in the path
        f"pkcs11:token=t;object=k;module-path=/usr/lib/libexample.so?pin-value={PIN_MARKER}",
        f"pkcs11:token=t;object=k?{_M}",  # no PIN
        f"pkcs11:token=t;object=k?{_M}&pin-value=",  # empty PIN
        f"pkcs11:token=t;object=k?{_M}&{PIN_MARKER}",  # not name=value
        f"pkcs11:token=t;object=k?{_M}&={PIN_MARKER}",  # empty name
        f"pkcs11:token=t;token=u;object=k?{_M}&pin-value={PIN_MARKER}",  # repeated
        f"pkcs11:token=t;object=k?{_M}&pin-value={PIN_MARKER}&pin-value={PIN_MARKER}",
        f"pkcs11:token=t;object=k?{_M}&pin-value={PIN_MARKER}&pin-source=file:/x",  # both PINs
        f"pkcs11:token=t;object=k?{_M}&pin-source=relative/{PIN_MARKER}",
        f"pkcs11:token=t;object=k?{_M}&pin-source=https://example.org/{PIN_MARKER}",
        f"pkcs11:token=t;object=k?{_M}&pin-source=file:/nonexistent/pin&x={PIN_MARKER}",
    ],
)
def test_malformed_uri_is_rejected_without_showing_the_pin(uri: str) -> None:
    with pytest.raises(KeyProviderError) as caught:
        Pkcs11KeyProvider.from_uri(uri)
    assert PIN_MARKER not in str(caught.value) and PIN_MARKER not in repr(caught.value)
    assert caught.value.__cause__ is None


def test_group_readable_pin_file_is_refused(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(PIN_MARKER)
    pin_file.chmod(0o640)
    with pytest.raises(KeyProviderError, match="chmod 600") as caught:
        Pkcs11KeyProvider.from_uri(f"pkcs11:token=t;object=k?{_M}&pin-source=file:{pin_file}")
    assert PIN_MARKER not in str(caught.value)
    pin_file.chmod(0o600)
    assert Pkcs11KeyProvider.from_uri(
        f"pkcs11:token=t;object=k?{_M}&pin-source=file://{pin_file}"
    )  # control


def test_repr_does_not_show_the_pin() -> None:
    provider = Pkcs11KeyProvider.from_uri(f"pkcs11:token=t;object=k?{_M}&pin-value={PIN_MARKER}")
    assert PIN_MARKER not in repr(provider) and PIN_MARKER not in repr(provider._config)
