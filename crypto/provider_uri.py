"""The key provider that `HAVEN_KEK` names: a key file or an HSM token.

Its own module, above both providers, so that neither imports the other.
"""

from __future__ import annotations

from pathlib import Path

from crypto.errors import KeyProviderError
from crypto.providers import FileKeyProvider, KeyProvider


def provider_from_uri(uri: str) -> KeyProvider:
    """Build the provider named by `HAVEN_KEK`: ``file:PATH`` or an RFC 7512 ``pkcs11:`` URI."""
    if uri.startswith("file:"):
        return FileKeyProvider(Path(uri[5:]))
    if uri.startswith("pkcs11:"):
        from crypto.pkcs11 import Pkcs11KeyProvider  # python-pkcs11 loads only for an HSM

        return Pkcs11KeyProvider.from_uri(uri)
    raise KeyProviderError("HAVEN_KEK must start with 'file:' or 'pkcs11:'")
