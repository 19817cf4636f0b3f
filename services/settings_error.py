"""The one error a malformed setting raises (`services.settings`): its message names the
variable and its rule, never a secret's value."""

from __future__ import annotations


class SettingsError(Exception):
    pass
