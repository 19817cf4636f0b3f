"""Per-stream hash chain over event headers and ciphertexts.

    chain_0 = 32 zero bytes (genesis)
    chain_v = SHA-256( "haven.chain.v1" || chain_{v-1} || u32be(len(header_v)) || header_v
                       || ciphertext_v )

`header_v` is the event's associated data (see `crypto.envelope.event_header`), so the
chain covers every header field and the sealed payload. The stream's head row stores
(version, chain_v) of its newest event: deleting the newest event, or any other, breaks the
chain or the anchor. Verifying needs no key, so it still works after crypto-shredding.

The writer extends the chain from the head it read; the head row's update only succeeds if
that head is still current, so two writers can never fork a chain.
"""

from __future__ import annotations

import hashlib
import struct

GENESIS = bytes(32)
LABEL = b"haven.chain.v1"


def next_link(previous: bytes, header: bytes, ciphertext: bytes) -> bytes:
    digest = hashlib.sha256(LABEL)
    digest.update(previous)
    digest.update(struct.pack(">I", len(header)))
    digest.update(header)
    digest.update(ciphertext)
    return digest.digest()
