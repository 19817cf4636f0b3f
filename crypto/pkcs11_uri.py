"""Parsing the RFC 7512 ``pkcs11:`` URI that configures `crypto.pkcs11.Pkcs11KeyProvider`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from crypto.errors import KeyProviderError


@dataclass(frozen=True)
class Pkcs11Config:
    module_path: str
    token_label: str
    object_label: str
    pin: str = field(repr=False)


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
