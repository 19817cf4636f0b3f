"""KEK provider backed by a PKCS#11 token (an HSM, or SoftHSM2 in tests).

Configured by an RFC 7512 URI (``HAVEN_KEK``): ``pkcs11:token=<label>;object=<key label
prefix>?module-path=<module .so>&pin-source=file:<pin file>`` (path attributes other than
``token`` and ``object`` are ignored; the PIN comes from exactly one of ``pin-source``, a
file of mode 0600, or ``pin-value``; values are percent-decoded). Each organisation has its
own non-extractable AES-256 key object in the token, ``<object>:<tenant>``, generated inside
the token on first use; data keys are wrapped by AES-256-GCM inside the token. The wrapped
layout, how two processes creating the same key converge, and why one login is kept per
process are in docs/security.md#keys-and-hsms.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast
from urllib.parse import unquote

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.exceptions import (
    DeviceError,
    DeviceRemoved,
    PKCS11Error,
    SessionClosed,
    SessionHandleInvalid,
    TokenNotPresent,
    TokenNotRecognised,
    UserAlreadyLoggedIn,
    UserNotLoggedIn,
)
from pkcs11.mechanisms import GCMParams
from pkcs11.types import SecretKey, Session, Token

from crypto.errors import DecryptionError, KeyProviderError
from crypto.providers import wrap_associated_data

FORMAT_VERSION = 1
DATA_KEY_BYTES = 32
IV_BYTES = 12
TAG_BYTES = 16
WRAPPED_BYTES = 1 + IV_BYTES + DATA_KEY_BYTES + TAG_BYTES
_KEY_ID_BYTES = 16

# Errors after which the session (and perhaps the login) is gone; anything else, such as a
# bad tag (SoftHSM2 reports CKR_GENERAL_ERROR), leaves the session usable.
_SESSION_LOST = (
    SessionHandleInvalid,
    SessionClosed,
    DeviceRemoved,
    DeviceError,
    TokenNotPresent,
    TokenNotRecognised,
    UserNotLoggedIn,
)

# (module path, token label) -> the session holding this process's login (None: someone else
# in this process logged in). Never closed: closing would log out every session on the token.
_logins: dict[tuple[str, str], Session | None] = {}
_logins_lock = threading.Lock()


@dataclass(frozen=True)
class Pkcs11Config:
    module_path: str
    token_label: str
    object_label: str
    pin: str = field(repr=False)


class Pkcs11KeyProvider:
    """One non-extractable AES-256 KEK object per organisation inside a PKCS#11 token."""

    def __init__(self, config: Pkcs11Config) -> None:
        self._config = config
        self._lock = threading.Lock()
        self._session: Session | None = None
        self._current: dict[str, tuple[str, SecretKey]] = {}  # tenant -> (kek_id, key)
        self._by_id: dict[tuple[str, bytes], SecretKey] = {}  # (tenant, CKA_ID) -> key

    @classmethod
    def from_uri(cls, uri: str) -> Pkcs11KeyProvider:
        """Parse an RFC 7512 URI and read the PIN; the token is first opened on use."""
        return cls(parse_pkcs11_uri(uri))

    def __repr__(self) -> str:
        config = self._config
        return f"Pkcs11KeyProvider(token={config.token_label!r}, object={config.object_label!r})"

    # -- KeyProvider ---------------------------------------------------------------------

    def wrap(self, tenant: str, data_key: bytes, context: bytes) -> tuple[str, bytes]:
        if len(data_key) != DATA_KEY_BYTES:
            raise ValueError("a data key is 32 bytes")
        with self._lock:
            for attempt in (1, 2):  # one retry with a fresh session, e.g. after a token reset
                try:
                    kek_id, key = self._current_key(tenant)
                    iv = os.urandom(IV_BYTES)
                    params = GCMParams(
                        iv, wrap_associated_data(tenant, kek_id, context), TAG_BYTES * 8
                    )
                    sealed = key.encrypt(
                        data_key, mechanism=Mechanism.AES_GCM, mechanism_param=params
                    )
                    break
                except PKCS11Error as error:
                    self._reset(forget_login=isinstance(error, _SESSION_LOST))
                    if attempt == 2:
                        raise KeyProviderError(
                            f"PKCS#11 wrap failed: {type(error).__name__}"
                        ) from None
        if len(sealed) != DATA_KEY_BYTES + TAG_BYTES:
            raise KeyProviderError("PKCS#11 token returned a GCM ciphertext of unexpected length")
        return kek_id, bytes([FORMAT_VERSION]) + iv + sealed

    def unwrap(self, tenant: str, kek_id: str, wrapped: bytes, context: bytes) -> bytes:
        prefix = self._kek_id_prefix(tenant)
        if (
            not kek_id.startswith(prefix)
            or len(wrapped) != WRAPPED_BYTES
            or wrapped[0] != FORMAT_VERSION
        ):
            raise DecryptionError()
        try:
            key_id = bytes.fromhex(kek_id[len(prefix) :])
        except ValueError:
            raise DecryptionError() from None
        iv, sealed = wrapped[1 : 1 + IV_BYTES], wrapped[1 + IV_BYTES :]
        params = GCMParams(iv, wrap_associated_data(tenant, kek_id, context), TAG_BYTES * 8)
        with self._lock:
            try:
                key = self._key_by_id(tenant, key_id)
                data_key = key.decrypt(sealed, mechanism=Mechanism.AES_GCM, mechanism_param=params)
            except PKCS11Error as error:
                if isinstance(error, _SESSION_LOST):
                    self._reset(forget_login=True)
                raise DecryptionError() from None
            except KeyProviderError:
                raise DecryptionError() from None
        if len(data_key) != DATA_KEY_BYTES:
            raise DecryptionError()
        return data_key

    def check(self) -> None:
        """Open (or re-open) the session and make one round trip to the token."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    # A search makes the token answer; a stale session fails here.
                    list(self._open().get_objects({Attribute.LABEL: self._label("")}))
                    return
                except PKCS11Error as error:
                    self._reset(forget_login=True)
                    if attempt == 2:
                        raise KeyProviderError(
                            f"PKCS#11 token {self._config.token_label!r} is unreachable: "
                            f"{type(error).__name__}"
                        ) from None

    def close(self) -> None:
        with self._lock:
            self._reset(forget_login=False)

    # -- internals (called with self._lock held) --------------------------------------------

    def _label(self, tenant: str) -> str:
        return f"{self._config.object_label}:{tenant}"

    def _kek_id_prefix(self, tenant: str) -> str:
        return f"pkcs11:{self._config.object_label}:{tenant}:"

    def _open(self) -> Session:
        if self._session is None:
            config = self._config
            try:
                token = pkcs11.lib(config.module_path).get_token(token_label=config.token_label)
            except (PKCS11Error, OSError) as error:
                raise KeyProviderError(
                    f"cannot find PKCS#11 token {config.token_label!r} in module "
                    f"{config.module_path}: {type(error).__name__}"
                ) from None
            _ensure_login(config, token)
            # Not logged in itself (shares the process login), so closing it logs nobody out.
            self._session = token.open(rw=True)
        return self._session

    def _reset(self, *, forget_login: bool) -> None:
        session, self._session = self._session, None
        self._current.clear()
        self._by_id.clear()
        if forget_login:
            with _logins_lock:
                _logins.pop((self._config.module_path, self._config.token_label), None)
        if session is not None:
            try:
                session.close()
            except PKCS11Error:
                pass  # already gone

    def _find(self, tenant: str, key_id: bytes | None = None) -> list[SecretKey]:
        template: dict[Attribute, Any] = {
            Attribute.CLASS: ObjectClass.SECRET_KEY,
            Attribute.KEY_TYPE: KeyType.AES,
            Attribute.LABEL: self._label(tenant),
        }
        if key_id is not None:
            template[Attribute.ID] = key_id
        # Only secret keys match the template, so the objects are SecretKeys.
        return cast(list[SecretKey], list(self._open().get_objects(template)))

    def _current_key(self, tenant: str) -> tuple[str, SecretKey]:
        cached = self._current.get(tenant)
        if cached is not None:
            return cached
        if not tenant:
            raise ValueError("tenant must not be empty")
        keys = self._find(tenant)
        if not keys:
            self._generate(tenant)
            keys = self._find(tenant)  # fresh search: a racing creator's object shows up here too
        key = min(keys, key=lambda candidate: bytes(candidate[Attribute.ID]))
        key_id = _verified_id(key)
        cached = self._current[tenant] = (self._kek_id_prefix(tenant) + key_id.hex(), key)
        self._by_id[(tenant, key_id)] = key
        return cached

    def _key_by_id(self, tenant: str, key_id: bytes) -> SecretKey:
        key = self._by_id.get((tenant, key_id))
        if key is None:
            if not key_id:
                raise KeyProviderError("empty key id")
            keys = self._find(tenant, key_id)
            if len(keys) != 1:
                raise KeyProviderError("no single key object with that id")
            _verified_id(keys[0])
            key = self._by_id[(tenant, key_id)] = keys[0]
        return key

    def _generate(self, tenant: str) -> None:
        self._open().generate_key(
            KeyType.AES,
            256,
            id=os.urandom(_KEY_ID_BYTES),
            label=self._label(tenant),
            store=True,
            template={
                Attribute.TOKEN: True,
                Attribute.PRIVATE: True,
                Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False,
                Attribute.ENCRYPT: True,
                Attribute.DECRYPT: True,
                Attribute.WRAP: False,
                Attribute.UNWRAP: False,
                Attribute.SIGN: False,
                Attribute.VERIFY: False,
                Attribute.DERIVE: False,
            },
        )


def _verified_id(key: SecretKey) -> bytes:
    """Return the key's CKA_ID after refusing objects that are not a sealed AES-256 KEK.

    Guards against a key object with the right label that was provisioned by hand as
    extractable, or with the wrong size.
    """
    attrs = key.get_attributes(
        [
            Attribute.ID,
            Attribute.VALUE_LEN,
            Attribute.SENSITIVE,
            Attribute.EXTRACTABLE,
            Attribute.ENCRYPT,
            Attribute.DECRYPT,
        ]
    )
    key_id = bytes(attrs[Attribute.ID])
    if (
        not key_id
        or attrs[Attribute.VALUE_LEN] != 32
        or not attrs[Attribute.SENSITIVE]
        or attrs[Attribute.EXTRACTABLE]
        or not (attrs[Attribute.ENCRYPT] and attrs[Attribute.DECRYPT])
    ):
        raise KeyProviderError(
            f"key object {key.label!r} must be AES-256 with a CKA_ID, sensitive, non-extractable, "
            "and allowed to encrypt and decrypt"
        )
    return key_id


def _ensure_login(config: Pkcs11Config, token: Token) -> None:
    key = (config.module_path, config.token_label)
    with _logins_lock:
        if key in _logins:
            return
        try:
            _logins[key] = token.open(user_pin=config.pin)
        except UserAlreadyLoggedIn:
            _logins[key] = None
        except PKCS11Error as error:  # e.g. PinIncorrect; the message never carries the PIN
            raise KeyProviderError(
                f"cannot log in to PKCS#11 token {config.token_label!r}: {type(error).__name__}"
            ) from None


# -- RFC 7512 URI -----------------------------------------------------------------------------

_PATH_ATTRIBUTES = ("token", "object")
_QUERY_ATTRIBUTES = ("module-path", "pin-source", "pin-value")


def parse_pkcs11_uri(uri: str) -> Pkcs11Config:
    """Parse ``pkcs11:path?query``; errors name the attribute, never its value."""
    if not uri.startswith("pkcs11:"):
        raise KeyProviderError("a PKCS#11 key provider needs a 'pkcs11:' URI")
    path, _, query = uri[len("pkcs11:") :].partition("?")
    path_attrs = _attributes(path, ";", "path", _PATH_ATTRIBUTES)
    query_attrs = _attributes(query, "&", "query", _QUERY_ATTRIBUTES)
    for name in _PATH_ATTRIBUTES:
        if not path_attrs.get(name):
            raise KeyProviderError(
                f"pkcs11: URI lacks the path attribute '{name}' (e.g. pkcs11:token=...;object=...)"
            )
    module_path = query_attrs.get("module-path")
    if not module_path:
        raise KeyProviderError(
            "pkcs11: URI lacks the query attribute 'module-path' (the PKCS#11 module .so)"
        )
    if "pin-source" in query_attrs and "pin-value" in query_attrs:
        raise KeyProviderError(
            "pkcs11: URI has both 'pin-source' and 'pin-value'; give one (pin-source preferred)"
        )
    if "pin-source" in query_attrs:
        pin = _read_pin(query_attrs["pin-source"])
    elif "pin-value" in query_attrs:
        pin = query_attrs["pin-value"]
    else:
        raise KeyProviderError("pkcs11: URI lacks 'pin-source=file:/path/to/pin' (or 'pin-value')")
    if not pin:
        raise KeyProviderError("the PKCS#11 PIN is empty")
    return Pkcs11Config(module_path, path_attrs["token"], path_attrs["object"], pin)


def _attributes(text: str, separator: str, where: str, known: tuple[str, ...]) -> dict[str, str]:
    found: dict[str, str] = {}
    for part in text.split(separator):
        if not part:
            continue
        name, equals, value = part.partition("=")
        if not equals or not name:
            raise KeyProviderError(
                f"malformed {where} attribute in pkcs11: URI (expected name=value)"
            )
        if name not in known:
            continue  # manufacturer, serial, model, type, id, module-name, ...
        if name in found:
            raise KeyProviderError(f"pkcs11: URI repeats the {where} attribute '{name}'")
        found[name] = unquote(value)
    return found


def _read_pin(source: str) -> str:
    if source.startswith("file://"):
        source = source[len("file://") :]
    elif source.startswith("file:"):
        source = source[len("file:") :]
    if not source.startswith("/"):
        raise KeyProviderError(
            "pin-source must be an absolute file path, e.g. file:/run/secrets/hsm-pin"
        )
    path = Path(source)
    try:
        if path.stat().st_mode & 0o077:
            raise KeyProviderError(
                f"PIN file {path} must not be readable by group or others (chmod 600)"
            )
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    except (OSError, UnicodeDecodeError) as error:
        raise KeyProviderError(f"cannot read PIN file {path}: {type(error).__name__}") from None
