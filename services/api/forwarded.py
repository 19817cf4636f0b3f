"""The scheme a request came with, behind a proxy that terminates TLS.

Behind Caddy or nginx the request reaches Haven over plain HTTP, so a cookie would not be
marked `Secure`. The proxy's `X-Forwarded-Proto` says what the browser used; it is believed
only from the addresses `HAVEN_TRUSTED_PROXIES` names (anyone else could send it), and only
`https` or `http`. Nothing else of the forwarded headers is used.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import MutableMapping
from typing import Any

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@functools.cache
def networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(item) for item in trusted)


def apply_forwarded_scheme(scope: MutableMapping[str, Any], trusted: tuple[str, ...]) -> None:
    """Set `scope["scheme"]` from a trusted proxy's single `X-Forwarded-Proto` header."""
    if not trusted or not scope.get("client"):
        return
    try:
        client = ipaddress.ip_address(scope["client"][0])
    except ValueError:
        return
    if not any(client in network for network in networks(trusted)):
        return
    values = [v for k, v in scope.get("headers", []) if k.lower() == b"x-forwarded-proto"]
    if len(values) == 1 and values[0].strip().lower() in (b"https", b"http"):
        scope["scheme"] = values[0].strip().lower().decode()
