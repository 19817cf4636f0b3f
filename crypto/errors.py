"""The errors `crypto` raises. They never carry key material, plaintext or ciphertext."""


class DecryptionError(Exception):
    """Ciphertext could not be opened: wrong key, wrong associated data, tampered or truncated.

    Deliberately opaque: one error for every failure, so that a caller (or an attacker
    probing the system) learns nothing about *why* opening failed.
    """

    def __init__(self) -> None:
        super().__init__("ciphertext could not be authenticated")


class KeyProviderError(Exception):
    """The key-encryption-key provider is misconfigured or unreachable."""
