"""The one error token verification raises.

Every refusal is `InvalidToken` with a stable, machine-readable `reason`: the API layer maps
all of them to 401 except `keys-unavailable` (the identity provider's key set could not be
fetched: a 503, the caller did nothing wrong). The message names the reason and nothing else:
never the token, its claims or the library's own error text, so a refusal can be logged
without leaking a bearer credential or who it was issued to.
"""

from __future__ import annotations

REASONS = frozenset(
    {
        "malformed",  # not a compact JWS, bad base64/JSON, unsupported header (crit, b64)
        # alg outside the allow-list, or not the algorithm of the key's type
        "algorithm-not-allowed",
        "unknown-kid",  # no kid, or no key with that kid (after a rate-limited refresh)
        "bad-signature",  # signature does not verify under the named key
        "expired",  # exp (plus leeway) has passed
        "not-yet-valid",  # nbf or iat (minus leeway) still in the future
        "lifetime-too-long",  # exp - iat beyond the accepted lifetime (HAVEN_TOKEN_MAX_LIFETIME)
        "wrong-issuer",
        "wrong-audience",
        "missing-claims",  # a required claim is absent, or no role Haven knows
        "invalid-claims",  # a claim has the wrong type or shape
        "keys-unavailable",  # the JWKS has never been fetched successfully
    }
)


class InvalidToken(Exception):
    """A bearer token was refused; `reason` is one of `REASONS`."""

    def __init__(self, reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown reason code {reason!r}")
        super().__init__(f"bearer token refused: {reason}")
        self.reason = reason
