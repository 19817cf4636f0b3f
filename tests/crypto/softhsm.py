"""A throwaway SoftHSM2 token for the PKCS#11 tests.

SoftHSM2 reads ``SOFTHSM2_CONF`` once, at ``C_Initialize``, and python-pkcs11 loads (and
initialises) a module once per process. So a test run gets one token directory and one
configuration, created before anything loads the module: see the session-scoped
``softhsm_token`` fixture in ``conftest.py``.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

TOKEN_LABEL = "haven-test"
OBJECT_LABEL = "haven-kek"
_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",  # Debian, Ubuntu
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",  # Fedora
    "/usr/local/lib/softhsm/libsofthsm2.so",  # built from source
    "/opt/homebrew/lib/softhsm/libsofthsm2.so",
)


@dataclass(frozen=True)
class SoftHsmToken:
    module_path: str
    conf_path: Path
    label: str
    pin_file: Path
    pin: str = field(repr=False)

    def uri(
        self,
        *,
        token: str | None = None,
        object_label: str = OBJECT_LABEL,
        module_path: str | None = None,
        pin_source: bool = True,
    ) -> str:
        """The ``pkcs11:`` URI of this token, with optional overrides for negative tests."""
        query = f"module-path={quote(module_path or self.module_path)}"
        if pin_source:
            query += f"&pin-source=file:{quote(str(self.pin_file))}"
        return f"pkcs11:token={quote(token or self.label)};object={quote(object_label)}?{query}"


def find_softhsm() -> tuple[str, str] | None:
    """(module path, softhsm2-util path), or None when SoftHSM2 is not installed."""
    util = shutil.which("softhsm2-util")
    module = next((path for path in _MODULE_CANDIDATES if os.path.exists(path)), None)
    return (module, util) if module and util else None


def create_token(
    directory: Path, module_path: str, util: str, *, label: str = TOKEN_LABEL
) -> SoftHsmToken:
    """Initialise a fresh token under `directory` (does not touch this process's environment)."""
    token_dir = directory / "tokens"
    token_dir.mkdir(parents=True, mode=0o700)
    conf_path = directory / "softhsm2.conf"
    conf_path.write_text(
        f"directories.tokendir = {token_dir}\nobjectstore.backend = file\nlog.level = ERROR\n"
    )
    pin, so_pin = secrets.token_hex(8), secrets.token_hex(8)
    subprocess.run(
        [util, "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin],
        env={**os.environ, "SOFTHSM2_CONF": str(conf_path)},
        check=True,
        capture_output=True,
    )
    pin_file = directory / "pin"
    fd = os.open(pin_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(pin + "\n")
    return SoftHsmToken(module_path, conf_path, label, pin_file, pin)
