"""AES-256-GCM sealing: every way of tampering fails with one opaque error."""

from __future__ import annotations

import pytest

from crypto.aead import KEY_BYTES, NONCE_BYTES, OVERHEAD, TAG_BYTES, Aead, random_key
from crypto.errors import DecryptionError

KEY = bytes(range(32))  # synthetic, fixed key
PLAINTEXT = b"synthetic note: visit scheduled"
AD = b"tenant:test-org\x00stream:1\x00version:1"
OPAQUE_MESSAGE = "ciphertext could not be authenticated"


def flip(data: bytes, index: int) -> bytes:
    changed = bytearray(data)
    changed[index] ^= 0x01
    return bytes(changed)


@pytest.fixture
def aead() -> Aead:
    return Aead(KEY)


@pytest.fixture
def sealed(aead: Aead) -> bytes:
    return aead.seal(PLAINTEXT, AD)


def assert_opaque_failure(aead: Aead, message: bytes, associated_data: bytes = AD) -> None:
    with pytest.raises(DecryptionError) as caught:
        aead.open(message, associated_data)
    assert type(caught.value) is DecryptionError
    assert str(caught.value) == OPAQUE_MESSAGE


def test_round_trip(aead: Aead, sealed: bytes) -> None:
    assert aead.open(sealed, AD) == PLAINTEXT
    assert len(sealed) == len(PLAINTEXT) + OVERHEAD


def test_round_trip_of_empty_plaintext(aead: Aead) -> None:
    assert aead.open(aead.seal(b"", AD), AD) == b""


def test_control_untampered_message_opens_with_a_second_instance_of_the_same_key(
    sealed: bytes,
) -> None:
    assert Aead(KEY).open(sealed, AD) == PLAINTEXT


def test_attack_flipped_ciphertext_byte_is_rejected(aead: Aead, sealed: bytes) -> None:
    ciphertext_start = 1 + NONCE_BYTES
    assert_opaque_failure(aead, flip(sealed, ciphertext_start))
    assert_opaque_failure(aead, flip(sealed, ciphertext_start + len(PLAINTEXT) - 1))


def test_attack_flipped_tag_byte_is_rejected(aead: Aead, sealed: bytes) -> None:
    assert_opaque_failure(aead, flip(sealed, len(sealed) - TAG_BYTES))
    assert_opaque_failure(aead, flip(sealed, len(sealed) - 1))


def test_attack_flipped_nonce_byte_is_rejected(aead: Aead, sealed: bytes) -> None:
    assert_opaque_failure(aead, flip(sealed, 1))
    assert_opaque_failure(aead, flip(sealed, NONCE_BYTES))


def test_attack_wrong_associated_data_is_rejected(aead: Aead, sealed: bytes) -> None:
    assert_opaque_failure(aead, sealed, AD + b"x")
    assert_opaque_failure(aead, sealed, b"")
    assert_opaque_failure(aead, sealed, AD.replace(b"version:1", b"version:2"))


def test_attack_wrong_key_is_rejected(sealed: bytes) -> None:
    assert_opaque_failure(Aead(random_key()), sealed)
    assert_opaque_failure(Aead(flip(KEY, 0)), sealed)


@pytest.mark.parametrize("length", [0, 1, 1 + NONCE_BYTES, OVERHEAD - 1, OVERHEAD, -1])
def test_attack_truncated_message_is_rejected(aead: Aead, sealed: bytes, length: int) -> None:
    assert_opaque_failure(aead, sealed[:length])


def test_attack_unknown_format_version_byte_is_rejected(aead: Aead, sealed: bytes) -> None:
    for version in (0x00, 0x02, 0xFF):
        assert_opaque_failure(aead, bytes([version]) + sealed[1:])


def test_every_failure_raises_the_same_error_with_the_same_message(
    aead: Aead, sealed: bytes
) -> None:
    failures = [
        (flip(sealed, 1 + NONCE_BYTES), AD),
        (flip(sealed, len(sealed) - 1), AD),
        (flip(sealed, 1), AD),
        (sealed, AD + b"x"),
        (sealed[:5], AD),
        (b"", AD),
        (b"\x02" + sealed[1:], AD),
    ]
    seen = set()
    for message, associated_data in failures:
        with pytest.raises(DecryptionError) as caught:
            aead.open(message, associated_data)
        seen.add((type(caught.value), str(caught.value), caught.value.args))
    with pytest.raises(DecryptionError) as caught:
        Aead(random_key()).open(sealed, AD)
    seen.add((type(caught.value), str(caught.value), caught.value.args))
    assert seen == {(DecryptionError, OPAQUE_MESSAGE, (OPAQUE_MESSAGE,))}


def test_fresh_nonce_per_seal(aead: Aead) -> None:
    first, second = aead.seal(PLAINTEXT, AD), aead.seal(PLAINTEXT, AD)
    assert first != second
    assert first[1 : 1 + NONCE_BYTES] != second[1 : 1 + NONCE_BYTES]
    assert aead.open(first, AD) == aead.open(second, AD) == PLAINTEXT


def test_repr_never_shows_the_key(aead: Aead) -> None:
    for text in (repr(aead), str(aead), f"{aead!r}", repr([aead])):
        assert KEY.hex() not in text
        assert repr(KEY) not in text
        assert "redacted" in text


def test_aead_has_no_instance_dict_to_leak_the_key_through(aead: Aead) -> None:
    assert not hasattr(aead, "__dict__")


@pytest.mark.parametrize("length", [16, 24, 31, 33, 0])
def test_a_key_that_is_not_256_bits_is_refused(length: int) -> None:
    with pytest.raises(ValueError):
        Aead(bytes(length))


def test_control_a_32_byte_key_is_accepted() -> None:
    assert len(random_key()) == KEY_BYTES
    Aead(bytes(KEY_BYTES))


def test_the_decryptor_protocol_opens_what_open_opens() -> None:
    from crypto.aead import FORMAT_VERSION, NONCE_END, AuthenticationFailed

    aead = Aead(random_key())
    sealed = aead.seal(b"synthetic payload", b"ad")
    assert sealed[0] == FORMAT_VERSION and len(sealed) >= OVERHEAD
    assert aead.decryptor(sealed[1:NONCE_END], sealed[NONCE_END:], b"ad") == aead.open(
        sealed, b"ad"
    )
    with pytest.raises(AuthenticationFailed):
        aead.decryptor(sealed[1:NONCE_END], sealed[NONCE_END:], b"other ad")
