"""KEK provider backed by a PKCS#11 token (an HSM, or SoftHSM2 in tests).

Configured by an RFC 7512 URI (``HAVEN_KEK``): ``pkcs11:token=<label>;object=<key label
prefix>?module-path=<module .so>&pin-source=file:<pin file>`` (path attributes other than
``token`` and ``object`` are ignored; the PIN comes from exactly one of ``pin-source``, a
file of mode 0600, or ``pin-value``; values are percent-decoded). Each organisation has its
own non-extractable AES-256 key objects in the token, labelled ``<object>:<tenant>``, the first
generated inside the token on first use; data keys are wrapped by AES-256-GCM inside the token.
Versions: `rotate` generates a key object whose CKA_ID carries its version number and creation
time; the highest version wraps, the others still unwrap until `retire` destroys them and
leaves a data object (``<object>:<tenant>:retired``) recording the version's dates. A process
looks the active version up again every `current_seconds`, and an unwrap finds any version by
its CKA_ID. The wrapped layout, how two processes creating the same key converge, and why one
login is kept per process are in docs/security.md#keys-and-hsms.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any, cast

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
from crypto.pkcs11_uri import Pkcs11Config, parse_pkcs11_uri
from crypto.pkcs11_versions import (
    KEY_ID_BYTES,
    newest,
    now_text,
    verified_id,
    version_of,
    versioned_id,
)
from crypto.providers import KekVersion, wrap_associated_data

__all__ = ["WRAPPED_BYTES", "Pkcs11Config", "Pkcs11KeyProvider", "parse_pkcs11_uri"]

FORMAT_VERSION = 1
DATA_KEY_BYTES = 32
IV_BYTES = 12
TAG_BYTES = 16
WRAPPED_BYTES = 1 + IV_BYTES + DATA_KEY_BYTES + TAG_BYTES

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


class Pkcs11KeyProvider:
    """One non-extractable AES-256 KEK object per organisation inside a PKCS#11 token."""

    shared_across_organisations = False

    def __init__(self, config: Pkcs11Config, *, current_seconds: float = 10.0) -> None:
        self._config = config
        self._current_seconds = current_seconds
        self._lock = threading.Lock()
        self._session: Session | None = None
        # tenant -> (kek_id, key, when it was looked up on the monotonic clock)
        self._current: dict[str, tuple[str, SecretKey, float]] = {}
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

    # -- KekAdministration ------------------------------------------------------------------

    def active_kek_id(self, tenant: str) -> str:
        with self._administering("lookup"):
            self._current.pop(tenant, None)
            return self._current_key(tenant)[0]

    def versions(self, tenant: str) -> list[KekVersion]:
        with self._administering("listing"):
            keys = self._find(tenant)
            active = bytes(newest(keys)[Attribute.ID]) if keys else None
            found = []
            for key in sorted(keys, key=lambda k: version_of(bytes(k[Attribute.ID]))[0]):
                key_id = bytes(key[Attribute.ID])
                state = "active" if key_id == active else "retiring"
                found.append(
                    KekVersion(
                        self._kek_id_prefix(tenant) + key_id.hex(), version_of(key_id)[1], state
                    )
                )
            for record in self._tombstones(tenant):
                found.append(KekVersion(record["kek_id"], record.get("created"), "retired"))
            return found

    def rotate(self, tenant: str) -> str:
        if not tenant:
            raise ValueError("tenant must not be empty")
        with self._administering("rotation"):
            keys = self._find(tenant)
            highest = max((version_of(bytes(k[Attribute.ID]))[0] for k in keys), default=0)
            key_id = versioned_id(highest + 1)
            self._generate(tenant, key_id)
            self._current.pop(tenant, None)
            return self._kek_id_prefix(tenant) + key_id.hex()

    def retire(self, tenant: str, kek_id: str) -> None:
        prefix = self._kek_id_prefix(tenant)
        try:
            key_id = bytes.fromhex(kek_id.removeprefix(prefix))
        except ValueError:
            raise KeyProviderError(f"{kek_id} is not a KEK of organisation {tenant}") from None
        if not kek_id.startswith(prefix) or not key_id:
            raise KeyProviderError(f"{kek_id} is not a KEK of organisation {tenant}")
        with self._administering("retirement"):
            keys = self._find(tenant)
            if keys and bytes(newest(keys)[Attribute.ID]) == key_id:
                raise KeyProviderError(f"{kek_id} is the active KEK; rotate first")
            matching = [key for key in keys if bytes(key[Attribute.ID]) == key_id]
            if not matching:
                if any(record["kek_id"] == kek_id for record in self._tombstones(tenant)):
                    return
                raise KeyProviderError(f"the token has no KEK {kek_id}")
            record = {"kek_id": kek_id, "retired": now_text()}
            created = version_of(key_id)[1]
            if created is not None:
                record["created"] = created
            self._open().create_object(
                {
                    Attribute.CLASS: ObjectClass.DATA,
                    Attribute.TOKEN: True,
                    Attribute.PRIVATE: True,
                    Attribute.LABEL: self._label(tenant) + ":retired",
                    Attribute.VALUE: json.dumps(record).encode(),
                }
            )
            for key in matching:
                key.destroy()
            self._by_id.pop((tenant, key_id), None)
            self._current.pop(tenant, None)

    @contextlib.contextmanager
    def _administering(self, what: str) -> Iterator[None]:
        """Hold the lock; a token error becomes a `KeyProviderError` naming its class only."""
        with self._lock:
            try:
                yield
            except PKCS11Error as error:
                self._reset(forget_login=isinstance(error, _SESSION_LOST))
                raise KeyProviderError(f"PKCS#11 {what} failed: {type(error).__name__}") from None

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

    def _tombstones(self, tenant: str) -> list[dict[str, str]]:
        objects = self._open().get_objects(
            {Attribute.CLASS: ObjectClass.DATA, Attribute.LABEL: self._label(tenant) + ":retired"}
        )
        records = []
        for found in objects:
            try:
                record = json.loads(bytes(found[Attribute.VALUE]))
                records.append({str(k): str(v) for k, v in record.items()})
            except (ValueError, AttributeError):
                continue  # not one of ours
        return records

    def _current_key(self, tenant: str) -> tuple[str, SecretKey]:
        cached = self._current.get(tenant)
        if cached is not None and time.monotonic() - cached[2] < self._current_seconds:
            return cached[0], cached[1]
        if not tenant:
            raise ValueError("tenant must not be empty")
        keys = self._find(tenant)
        if not keys:
            self._generate(tenant, os.urandom(KEY_ID_BYTES))
            keys = self._find(tenant)  # fresh search: a racing creator's object shows up here too
        key = newest(keys)
        key_id = verified_id(key)
        kek_id = self._kek_id_prefix(tenant) + key_id.hex()
        self._current[tenant] = (kek_id, key, time.monotonic())
        self._by_id[(tenant, key_id)] = key
        return kek_id, key

    def _key_by_id(self, tenant: str, key_id: bytes) -> SecretKey:
        key = self._by_id.get((tenant, key_id))
        if key is None:
            if not key_id:
                raise KeyProviderError("empty key id")
            keys = self._find(tenant, key_id)
            if len(keys) != 1:
                raise KeyProviderError("no single key object with that id")
            verified_id(keys[0])
            key = self._by_id[(tenant, key_id)] = keys[0]
        return key

    def _generate(self, tenant: str, key_id: bytes) -> None:
        self._open().generate_key(
            KeyType.AES,
            256,
            id=key_id,
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
