"""The document of the case view: one case's `CaseState` and timeline, sealed with its data key.

A document is msgpack-encoded and sealed with AES-256-GCM; the associated data binds tenant,
case, version and key id, so a row moved to another case or rolled back to an older version
fails to open (`TamperDetected`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from types import MappingProxyType

import msgspec

from crypto.errors import DecryptionError
from crypto.keyring import DataKey
from domain.case.state import CaseState
from events.errors import TamperDetected


class TimelineEntry(msgspec.Struct, frozen=True, array_like=True, gc=False):
    version: int
    recorded_at: dt.datetime
    event_type: str
    actor_id: str | None


class CaseDocument(msgspec.Struct, frozen=True, gc=False):
    """What the case view holds for one case, sealed."""

    state: CaseState
    timeline: tuple[TimelineEntry, ...] = ()


def _encode_hook(value: object) -> object:
    if isinstance(value, MappingProxyType):
        return dict(value)
    raise NotImplementedError(type(value).__name__)


_encoder = msgspec.msgpack.Encoder(enc_hook=_encode_hook)
_decoder = msgspec.msgpack.Decoder(CaseDocument)
_header_encoder = msgspec.msgpack.Encoder()


def view_header(tenant_id: str, case_id: uuid.UUID, version: int, key_id: str) -> bytes:
    """The associated data of a sealed case-view document."""
    return _header_encoder.encode(("haven.view.case/1", tenant_id, str(case_id), version, key_id))


def seal_document(
    key: DataKey, tenant_id: str, case_id: uuid.UUID, document: CaseDocument
) -> bytes:
    return key.aead.seal(
        _encoder.encode(document),
        view_header(tenant_id, case_id, document.state.version, key.key_id),
    )


def open_document(
    key: DataKey, tenant_id: str, case_id: uuid.UUID, version: int, sealed: bytes
) -> CaseDocument:
    """TamperDetected when the row does not open, or opens as another version than it claims."""
    try:
        document = _decoder.decode(
            key.aead.open(sealed, view_header(tenant_id, case_id, version, key.key_id))
        )
    except DecryptionError:
        raise TamperDetected(f"the case view of case {case_id} fails authentication") from None
    if document.state.version != version:
        raise TamperDetected(f"the case view of case {case_id} is not at the version it claims")
    return document
