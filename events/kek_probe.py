"""Whether the configured key provider opens what the database holds (for `/ready`).

A key file replaced by another, or an HSM token holding other keys, would let the service
start and then fail on every read. `kek_problem` tries one stored data key and the
organisations' wrapped secrets: `kek-unavailable` when the provider cannot be used at all,
`kek-mismatch` when it answers but a stored key does not unwrap under it. The reason names
no key, kek id or organisation.
"""

from __future__ import annotations

import asyncpg

from crypto.errors import DecryptionError, KeyProviderError
from crypto.keyring import stream_wrap_context
from crypto.providers import KeyProvider
from events.key_rotation import SECRET_CONTEXTS

_SAMPLE_STREAM = """
SELECT tenant_id, stream_id::text, key_id, kek_id, wrapped_key FROM haven.streams
 WHERE wrapped_key IS NOT NULL LIMIT 1"""
_SAMPLE_SECRETS = "SELECT tenant_id, purpose, kek_id, wrapped FROM haven.tenant_secrets LIMIT 20"


async def stored_samples(pool: asyncpg.Pool) -> list[tuple[str, str, bytes, bytes]]:
    """(organisation, kek id, wrapped, context) of one data key and of the secrets."""
    samples = [
        (tenant, kek_id, bytes(wrapped), stream_wrap_context(stream, key_id))
        for tenant, stream, key_id, kek_id, wrapped in await pool.fetch(_SAMPLE_STREAM)
    ]
    samples += [
        (tenant, kek_id, bytes(wrapped), SECRET_CONTEXTS[purpose])
        for tenant, purpose, kek_id, wrapped in await pool.fetch(_SAMPLE_SECRETS)
        if purpose in SECRET_CONTEXTS
    ]
    return samples


def kek_problem(provider: KeyProvider, samples: list[tuple[str, str, bytes, bytes]]) -> str | None:
    """None when the provider is usable and unwraps every sample; else the reason's slug.
    Blocking (an HSM round trip): run it off the event loop."""
    try:
        provider.check()
    except KeyProviderError:
        return "kek-unavailable"
    for tenant, kek_id, wrapped, context in samples:
        try:
            provider.unwrap(tenant, kek_id, wrapped, context)
        except DecryptionError:
            return "kek-mismatch"
        except KeyProviderError:
            return "kek-unavailable"
    return None
