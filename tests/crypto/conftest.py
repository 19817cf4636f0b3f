from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.crypto.softhsm import SoftHsmToken, create_token, find_softhsm


@pytest.fixture(scope="session")
def softhsm_token(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SoftHsmToken]:
    """One SoftHSM2 token per test session (the module reads its config once per process)."""
    found = find_softhsm()
    if found is None:
        pytest.skip("SoftHSM2 is not installed (Debian package softhsm2); HSM tests need it")
    module_path, util = found
    token = create_token(tmp_path_factory.mktemp("softhsm"), module_path, util)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SOFTHSM2_CONF", str(token.conf_path))
        yield token
