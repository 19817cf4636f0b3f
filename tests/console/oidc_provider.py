"""A small OpenID Connect provider on 127.0.0.1, over real HTTP, for the console's sign-in.

It serves discovery, its JWKS, the authorisation endpoint (which signs in `user` at once, as
a person who already has a session at their provider would be) and the token endpoint, which
verifies PKCE (S256), the redirect URI, the client (`client_secret_basic` for a confidential
client) and spends each code once. Tokens are RS256, signed with a key made for each server.
`interactive` puts the provider's own page (a form the person submits) before that redirect.
`id_token_changes` and `discovery_changes` let a test make the provider misbehave.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

CLIENT_ID = "haven-console"
API_AUDIENCE = "haven-api"
KID = "provider-key-1"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class OidcProvider:
    def __init__(
        self, *, redirect_uri: str, client_secret: str | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.host = host  # the issuer's host name (the server listens on 127.0.0.1)
        self.redirect_uri = redirect_uri
        self.client_secret = client_secret
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.user: dict[str, Any] = {
            "sub": "worker-sso-1",
            "org": "org-harbor",
            "roles": ["caseworker"],
            "team": "team-north",
        }
        self.id_token_changes: dict[str, Any] = {}
        self.discovery_changes: dict[str, Any] = {}
        self.discovery_hits = 0
        self.deny: str | None = None  # an error code the authorisation endpoint answers with
        self.interactive = False  # True: the authorisation endpoint shows a page to submit
        self.codes: dict[str, dict[str, Any]] = {}
        self.token_requests: list[dict[str, Any]] = []  # (fields, authorization) of each
        self._lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    provider.discovery_hits += 1
                    self._json(200, provider.discovery())
                elif parts.path == "/jwks":
                    public = RSAAlgorithm.to_jwk(provider.key.public_key(), as_dict=True)
                    self._json(200, {"keys": [{**public, "kid": KID, "use": "sig"}]})
                elif parts.path == "/authorize" and provider.interactive:
                    self._page(provider.sign_in_page(query))
                elif parts.path == "/authorize":
                    self._redirect(provider.authorize(query))
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = {
                    k: v[0] for k, v in parse_qs(self.rfile.read(length).decode("ascii")).items()
                }
                if urlsplit(self.path).path == "/authorize":
                    self._redirect(provider.authorize(form))
                    return
                if urlsplit(self.path).path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                status, answer = provider.token(form, self.headers.get("Authorization"))
                self._json(status, answer)

            def _json(self, status: int, document: dict[str, Any]) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _page(self, text: str) -> None:
                body = text.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _redirect(self, location: str) -> None:
                self.send_response(302)
                self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                pass

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._http.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def issuer(self) -> str:
        return f"http://{self.host}:{self._http.server_address[1]}"

    @property
    def jwks_url(self) -> str:
        return f"{self.issuer}/jwks"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": self.jwks_url,
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic" if self.client_secret else "none"
            ],
            **self.discovery_changes,
        }

    def sign_in_page(self, query: dict[str, str]) -> str:
        """The provider's own page: a form the person submits (to the provider itself)."""
        fields = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in query.items()
        )
        return (
            '<!doctype html><html lang="en"><title>Provider</title><form method="post" '
            f'action="/authorize">{fields}<button type="submit">Continue</button></form></html>'
        )

    def authorize(self, query: dict[str, str]) -> str:
        """Where the browser goes next: the redirect URI with a code (or an error)."""
        if query.get("client_id") != CLIENT_ID or query.get("redirect_uri") != self.redirect_uri:
            raise AssertionError("the provider never redirects to an unregistered redirect URI")
        state = {"state": query["state"]} if "state" in query else {}
        if self.deny is not None:
            return f"{self.redirect_uri}?{urlencode({'error': self.deny, **state})}"
        if (
            query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or "openid" not in query.get("scope", "").split()
        ):
            return f"{self.redirect_uri}?{urlencode({'error': 'invalid_request', **state})}"
        code = secrets.token_urlsafe(24)
        with self._lock:
            self.codes[code] = {
                "challenge": query["code_challenge"],
                "nonce": query.get("nonce"),
                "redirect_uri": query["redirect_uri"],
            }
        return f"{self.redirect_uri}?{urlencode({'code': code, **state})}"

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict[str, Any]]:
        self.token_requests.append({"fields": form, "authorization": authorization})
        if not self._client_authenticated(form, authorization):
            return 401, {"error": "invalid_client"}
        with self._lock:
            grant = self.codes.pop(form.get("code", ""), None)  # each code is spent once
        if grant is None or form.get("grant_type") != "authorization_code":
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant"}
        verifier = form.get("code_verifier", "")
        challenge = b64url(hashlib.sha256(verifier.encode("ascii", "replace")).digest())
        if not 43 <= len(verifier) <= 128 or not hmac.compare_digest(challenge, grant["challenge"]):
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        access_token = self.sign({**self._times(), "aud": API_AUDIENCE, **self.user})
        half = hashlib.sha256(access_token.encode()).digest()[:16]
        id_claims = {
            **self._times(),
            "aud": CLIENT_ID,
            "sub": self.user["sub"],
            "nonce": grant["nonce"],
            "at_hash": b64url(half),
            **self.id_token_changes,
        }
        return 200, {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": self.sign({k: v for k, v in id_claims.items() if v is not None}),
        }

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": KID})

    def _times(self) -> dict[str, Any]:
        now = int(time.time())
        return {"iss": self.issuer, "iat": now, "exp": now + 300, "jti": secrets.token_hex(8)}

    def _client_authenticated(self, form: dict[str, str], authorization: str | None) -> bool:
        if self.client_secret is None:
            return form.get("client_id") == CLIENT_ID and authorization is None
        scheme, _, encoded = (authorization or "").partition(" ")
        if scheme != "Basic":
            return False
        client, _, secret = base64.b64decode(encoded).decode().partition(":")
        return unquote_plus(client) == CLIENT_ID and unquote_plus(secret) == self.client_secret

    def __enter__(self) -> OidcProvider:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()
        self._thread.join()
