"""What an identifier (of an organisation, a team, a worker, a case's parts) may be.

Identifiers end up in index keys, audit records, log fields and key-derivation labels, and they
come from outside: tokens, request bodies, an identity provider's claims. One rule for all:
1 to `MAX_IDENTIFIER_LENGTH` characters, none of them a control character (C0, DEL, C1, or a
line or paragraph separator), and not only whitespace. So no NUL that PostgreSQL's text refuses,
no line break that forges a log line, and no key too long for an index.
"""

from __future__ import annotations

import re

MAX_IDENTIFIER_LENGTH = 256
IDENTIFIER_PATTERN = r"^(?!\s+$)[^\x00-\x1f\x7f-\x9f\u2028\u2029]{1,%d}$" % MAX_IDENTIFIER_LENGTH
_IDENTIFIER = re.compile(IDENTIFIER_PATTERN)


def is_identifier(value: object) -> bool:
    return isinstance(value, str) and _IDENTIFIER.fullmatch(value) is not None
