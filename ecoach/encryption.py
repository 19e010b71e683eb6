"""Encryption at rest from the settings: the master keys, and the keyring built on them.

``master_keys`` (the setting, or ``ECOACH_MASTER_KEYS``) and ``master_key_file`` each hold
``id:key`` entries; the first entry of ``master_keys``, else of the file, is the current
key. Without either the server refuses to start unless ``allow_plaintext = true``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ecoach.core.crypto import CryptoError, MasterKey, MasterKeys, parse_master_keys
from ecoach.logbook.keyring import Keyring
from ecoach.settings import Settings, SettingsError

NO_KEY = ("no master key: set master_key_file (ECOACH_MASTER_KEY_FILE) or master_keys (ECOACH_MASTER_KEYS); "
          "`ecoach keys new --file PATH` makes one. To store personal data unencrypted instead, set "
          "allow_plaintext = true (ECOACH_ALLOW_PLAINTEXT)")


def master_keys(settings: Settings) -> MasterKeys | None:
    """The configured master keys; None in plaintext mode. SettingsError (one line naming
    the setting) when they are missing or malformed."""
    keys: list[MasterKey] = []
    try:
        keys += parse_master_keys(settings.master_keys, "master_keys (ECOACH_MASTER_KEYS)")
        if settings.master_key_file:
            path = Path(settings.master_key_file)
            if not path.is_file():
                raise SettingsError(f"master_key_file: {path} does not exist (ecoach keys new --file {path} makes it)")
            for key in parse_master_keys(path.read_text(), f"master_key_file {path}"):
                if all(k.id != key.id for k in keys):
                    keys.append(key)
    except CryptoError as exc:
        raise SettingsError(str(exc)) from None
    except OSError as exc:
        raise SettingsError(f"master_key_file: {exc}") from None
    if keys:
        return MasterKeys(keys)
    if not settings.allow_plaintext:
        raise SettingsError(NO_KEY)
    return None


def keyring_for(settings: Settings, now: Callable[[], datetime] | None = None) -> Keyring:
    """The keyring of these settings; a key file is read again when a data key needs a
    master key this process does not have yet (added during a rotation)."""

    def reload() -> MasterKeys | None:
        try:
            return master_keys(settings)
        except SettingsError:
            return None

    return Keyring(master_keys(settings), cache_size=settings.key_cache_size,
                   reload=reload if settings.master_key_file else None, now=now)
