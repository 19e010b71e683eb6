"""Password rules and hashing (argon2id), off the event loop.

A password check costs tens of milliseconds of CPU by design. In the server it runs in a
small thread pool (argon2 releases the GIL) with a bounded queue: the event loop keeps
answering while logins are checked, and a burst beyond the queue is refused at once
(429) instead of piling up. The CLI hashes in place.

Rules follow OWASP ASVS 2.1: at least 12 characters, at most 128, every character
allowed (spaces and emoji included), no composition rules, never truncated; passwords
from a small local list of the most common ones, and the account's own e-mail address,
are refused.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
import os
import threading
import unicodedata
from concurrent.futures import ThreadPoolExecutor

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ecoach.actions.errors import ActionError, N_, TooMany

log = logging.getLogger(__name__)

MIN_LENGTH = 12
MAX_LENGTH = 128
hasher = PasswordHasher()
# Verified against when an account is unknown (or has no password yet), so timing does
# not reveal which exist; made with the hasher in use (tests swap in a cheap one).
_dummy: dict[int, str] = {}
# The most common passwords of 12 characters or more (breach corpora); the local list the
# ASVS allows instead of an online breach service.
COMMON = frozenset("""
123456789012 1234567890123 12345678901234 123456789123 qwertyuiopasdf qwertyuiop123
passwordpassword password1234 password12345 password123456 1q2w3e4r5t6y 1qaz2wsx3edc
qwerty123456 aaaaaaaaaaaa 111111111111 000000000000 iloveyou1234 abcdefghijkl
abc123456789 administrator welcome12345 letmein12345 changeme1234 wachtwoord12
wachtwoord123 welkom123456 qwertyuiopas zaq12wsxcde3 123qweasdzxc
""".split())


class Counter:
    """How many password checks ran (the login benchmark prints it)."""

    checks = 0
    _lock = threading.Lock()

    @classmethod
    def add(cls) -> None:
        with cls._lock:
            cls.checks += 1


def _dummy_hash() -> str:
    if id(hasher) not in _dummy:
        _dummy[id(hasher)] = hasher.hash("not-a-real-password")
    return _dummy[id(hasher)]


def check_new_password(password: str, *, email: str = "") -> str:
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        raise ActionError("password_short", N_("A password needs at least %(n)s characters."), n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        raise ActionError("password_long", N_("A password can be at most %(n)s characters."), n=MAX_LENGTH)
    folded = unicodedata.normalize("NFKC", password).casefold()
    if folded in COMMON or (email and folded == email.strip().casefold()):
        raise ActionError("password_common", N_("This password is too easy to guess. Choose another one."))
    return password


def hash_now(password: str) -> str:
    return hasher.hash(password)


def verify_now(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; an unknown account (None) or an unusable
    hash (an invited coach without a password yet) costs the same and is False."""
    Counter.add()
    try:
        hasher.verify(stored or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return bool(stored)


def needs_rehash(stored: str) -> bool:
    try:
        return hasher.check_needs_rehash(stored)
    except InvalidHashError:
        return False


def _lower_priority() -> None:
    """Worker threads (and the threads argon2 starts from them, which inherit it) run at a
    lower CPU priority than the event loop: a burst of logins never slows other pages."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):  # not Linux, or not allowed: only a nicety
        pass


def busy() -> TooMany:
    return TooMany("login_busy", N_("The server is busy checking logins. Try again in a moment."))


class PasswordWorkers:
    """Runs argon2 in ``workers`` threads; at most ``queue`` checks wait for one."""

    def __init__(self, workers: int, queue: int) -> None:
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="argon2", initializer=_lower_priority)
        self._slots = asyncio.Semaphore(workers + queue)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """A place in the line, taken before any other work for a login (the database's
        included), or 429 at once when the line is full."""
        if self._slots.locked():
            raise busy()
        async with self._slots:
            yield

    async def verify(self, stored: str | None, password: str) -> bool:
        """Inside ``slot()``."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, verify_now, stored, password)

    async def hash(self, password: str) -> str:
        async with self.slot():
            return await asyncio.get_running_loop().run_in_executor(self._pool, hash_now, password)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
