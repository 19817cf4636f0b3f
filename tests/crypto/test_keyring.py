"""Per-stream data keys: wrapped by the provider, unwrapped once, cached with bounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from crypto.errors import DecryptionError
from crypto.keyring import Keyring, WrappedDataKey
from crypto.providers import FileKeyProvider

TENANT = "org-a"
STREAMS = [f"00000000-0000-0000-0000-00000000000{n}" for n in range(1, 4)]
AD = b"synthetic associated data"


class CountingProvider(FileKeyProvider):
    """A real FileKeyProvider that counts how often it is asked to unwrap."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.unwraps = 0

    def unwrap(self, tenant: str, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        self.unwraps += 1
        return super().unwrap(tenant, kek_id, wrapped, context)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def provider(tmp_path: Path) -> CountingProvider:
    return CountingProvider(tmp_path / "kek")


def test_create_then_unwrap_round_trip(provider: CountingProvider) -> None:
    keyring = Keyring(provider)
    data_key, wrapped = keyring.create(TENANT, STREAMS[0])
    assert wrapped.key_id == data_key.key_id
    sealed = data_key.aead.seal(b"synthetic", AD)

    fresh = Keyring(provider)  # nothing cached: must go through the provider
    unwrapped = fresh.unwrap(TENANT, STREAMS[0], wrapped)
    assert unwrapped.key_id == data_key.key_id
    assert unwrapped.aead.open(sealed, AD) == b"synthetic"
    assert provider.unwraps == 1


def test_create_does_not_cache_the_key(provider: CountingProvider) -> None:
    keyring = Keyring(provider)
    keyring.create(TENANT, STREAMS[0])
    assert keyring.cached(TENANT, STREAMS[0]) is None


def test_attack_wrapped_key_of_one_stream_does_not_unwrap_for_another(
    provider: CountingProvider,
) -> None:
    _, wrapped = Keyring(provider).create(TENANT, STREAMS[0])
    Keyring(provider).unwrap(TENANT, STREAMS[0], wrapped)  # control
    with pytest.raises(DecryptionError):
        Keyring(provider).unwrap(TENANT, STREAMS[1], wrapped)
    with pytest.raises(DecryptionError):
        Keyring(provider).unwrap("org-b", STREAMS[0], wrapped)


def test_attack_wrapped_key_with_a_swapped_key_id_does_not_unwrap(
    provider: CountingProvider,
) -> None:
    _, wrapped = Keyring(provider).create(TENANT, STREAMS[0])
    with pytest.raises(DecryptionError):
        Keyring(provider).unwrap(TENANT, STREAMS[0], wrapped._replace(key_id="0" * 16))


def test_unwrapping_is_cached(provider: CountingProvider) -> None:
    keyring = Keyring(provider)
    _, wrapped = keyring.create(TENANT, STREAMS[0])
    keys = [keyring.unwrap(TENANT, STREAMS[0], wrapped) for _ in range(10)]
    assert provider.unwraps == 1
    assert all(key is keys[0] for key in keys)


def test_cached_key_is_not_used_for_a_different_key_id(provider: CountingProvider) -> None:
    keyring = Keyring(provider)
    _, first = keyring.create(TENANT, STREAMS[0])
    _, second = keyring.create(TENANT, STREAMS[0])
    assert keyring.unwrap(TENANT, STREAMS[0], first).key_id == first.key_id
    assert keyring.unwrap(TENANT, STREAMS[0], second).key_id == second.key_id
    assert provider.unwraps == 2


def test_cache_is_bounded_in_size(provider: CountingProvider) -> None:
    keyring = Keyring(provider, cache_size=2)
    wrapped = {stream: keyring.create(TENANT, stream)[1] for stream in STREAMS}
    for stream in STREAMS:
        keyring.unwrap(TENANT, stream, wrapped[stream])
    assert provider.unwraps == 3
    keyring.unwrap(TENANT, STREAMS[2], wrapped[STREAMS[2]])  # still cached
    assert provider.unwraps == 3
    keyring.unwrap(TENANT, STREAMS[0], wrapped[STREAMS[0]])  # evicted: unwrapped again
    assert provider.unwraps == 4


def test_cache_is_bounded_in_lifetime(provider: CountingProvider) -> None:
    clock = Clock()
    keyring = Keyring(provider, cache_seconds=60, timer=clock)
    _, wrapped = keyring.create(TENANT, STREAMS[0])
    keyring.unwrap(TENANT, STREAMS[0], wrapped)
    clock.now += 59
    keyring.unwrap(TENANT, STREAMS[0], wrapped)
    assert provider.unwraps == 1  # control: still within its lifetime
    clock.now += 1
    assert keyring.cached(TENANT, STREAMS[0]) is None
    keyring.unwrap(TENANT, STREAMS[0], wrapped)
    assert provider.unwraps == 2


def test_forget_drops_the_key(provider: CountingProvider) -> None:
    keyring = Keyring(provider)
    data_key, wrapped = keyring.create(TENANT, STREAMS[0])
    keyring.remember(TENANT, STREAMS[0], data_key)
    assert keyring.cached(TENANT, STREAMS[0]) is data_key  # control
    keyring.forget(TENANT, STREAMS[0])
    assert keyring.cached(TENANT, STREAMS[0]) is None
    keyring.unwrap(TENANT, STREAMS[0], wrapped)
    assert provider.unwraps == 1
    keyring.forget(TENANT, STREAMS[1])  # forgetting an unknown stream is harmless


def test_forget_only_drops_that_stream(provider: CountingProvider) -> None:
    keyring = Keyring(provider)
    for stream in STREAMS[:2]:
        keyring.remember(TENANT, stream, keyring.create(TENANT, stream)[0])
    keyring.forget(TENANT, STREAMS[0])
    assert keyring.cached(TENANT, STREAMS[0]) is None
    assert keyring.cached(TENANT, STREAMS[1]) is not None


def test_shredded_key_cannot_be_unwrapped(provider: CountingProvider) -> None:
    keyring = Keyring(provider)
    _, wrapped = keyring.create(TENANT, STREAMS[0])
    keyring.unwrap(TENANT, STREAMS[0], wrapped)  # control
    keyring.forget(TENANT, STREAMS[0])
    with pytest.raises(DecryptionError):
        keyring.unwrap(TENANT, STREAMS[0], WrappedDataKey(wrapped.key_id, wrapped.kek_id, b""))
