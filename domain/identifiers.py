"""What an identifier (of an organisation, a team, a worker, a case's parts) may be.

Identifiers end up in index keys, audit records, log fields and key-derivation labels, and
they come from outside: tokens, request bodies, an identity provider's claims. One rule for
all, so no NUL that PostgreSQL's text refuses, no line break that forges a log line, no
invisible character that makes two ids look alike, and no key too long for an index.
"""

from __future__ import annotations

import re

MAX_IDENTIFIER_LENGTH = 256
_NOT_IN_AN_IDENTIFIER = (
    r"\x00-\x1f\x7f-\xa0\xad\u061c\u1680\u180e\u2000-\u200f\u2028-\u202f"
    r"\u205f-\u206f\u3000\ud800-\uf8ff\ufeff\ufff9-\ufffb"
)
# The part of the rule a JSON schema can say (length, and the control, format and separator
# characters by range), for request bodies; `is_identifier` is the whole rule.
IDENTIFIER_PATTERN = rf"^(?! +$)[^{_NOT_IN_AN_IDENTIFIER}]{{1,{MAX_IDENTIFIER_LENGTH}}}$"
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def is_identifier(value: object) -> bool:
    """1 to `MAX_IDENTIFIER_LENGTH` printable characters (`str.isprintable`: no control, format,
    separator other than the space, surrogate, private-use or unassigned character), not
    only spaces."""
    return (
        isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None and value.isprintable()
    )
