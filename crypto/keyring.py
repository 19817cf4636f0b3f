"""Per-stream data keys: created, wrapped by the organisation's KEK, cached once unwrapped.

A data key is a random 256-bit AES-GCM key, one per stream (case). Only its wrapped form is
ever stored. Unwrapped keys are cached in memory — bounded in size and lifetime — so that
reading a stream unwraps once, not per event. `forget` drops a key from the cache, which
crypto-shredding relies on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import NamedTuple

from cachetools import TTLCache

from crypto.aead import Aead, random_key
from crypto.providers import KeyProvider


class WrappedDataKey(NamedTuple):
    key_id: str
    kek_id: str
    wrapped: bytes


class DataKey(NamedTuple):
    key_id: str
    aead: Aead


def stream_wrap_context(stream_id: str, key_id: str) -> bytes:
    return b"stream:" + stream_id.encode() + b"\x00key:" + key_id.encode()


class Keyring:
    def __init__(
        self,
        provider: KeyProvider,
        *,
        cache_size: int = 20_000,
        cache_seconds: float = 300.0,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._cache: TTLCache[tuple[str, str], DataKey] = TTLCache(
            cache_size, cache_seconds, timer=timer
        )

    @property
    def provider(self) -> KeyProvider:
        return self._provider

    def create(self, tenant: str, stream_id: str) -> tuple[DataKey, WrappedDataKey]:
        """A fresh data key for a new stream, and its wrapped form to store. Not cached yet."""
        key_id = os.urandom(8).hex()
        material = random_key()
        kek_id, wrapped = self._provider.wrap(
            tenant, material, stream_wrap_context(stream_id, key_id)
        )
        return DataKey(key_id, Aead(material)), WrappedDataKey(key_id, kek_id, wrapped)

    def remember(self, tenant: str, stream_id: str, data_key: DataKey) -> None:
        """Cache a key once its stream is known to use it (after a successful append)."""
        self._cache[(tenant, stream_id)] = data_key

    def cached(self, tenant: str, stream_id: str) -> DataKey | None:
        return self._cache.get((tenant, stream_id))

    def unwrap(self, tenant: str, stream_id: str, wrapped: WrappedDataKey) -> DataKey:
        """The data key for a stream: from the cache, or unwrapped (raises `DecryptionError`)."""
        cached = self._cache.get((tenant, stream_id))
        if cached is not None and cached.key_id == wrapped.key_id:
            return cached
        material = self._provider.unwrap(
            tenant, wrapped.kek_id, wrapped.wrapped, stream_wrap_context(stream_id, wrapped.key_id)
        )
        data_key = DataKey(wrapped.key_id, Aead(material))
        self._cache[(tenant, stream_id)] = data_key
        return data_key

    def rewrap(self, tenant: str, stream_id: str, wrapped: WrappedDataKey) -> WrappedDataKey:
        """The same data key wrapped under the provider's active KEK, with the same context
        (raises `DecryptionError` when it does not unwrap). Cached copies stay valid: the key
        material does not change."""
        context = stream_wrap_context(stream_id, wrapped.key_id)
        material = self._provider.unwrap(tenant, wrapped.kek_id, wrapped.wrapped, context)
        kek_id, rewrapped = self._provider.wrap(tenant, material, context)
        return WrappedDataKey(wrapped.key_id, kek_id, rewrapped)

    def forget(self, tenant: str, stream_id: str) -> None:
        self._cache.pop((tenant, stream_id), None)

    def clear(self) -> None:
        self._cache.clear()
