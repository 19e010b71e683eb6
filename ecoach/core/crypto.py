"""Envelope encryption of personal data (pure: no database, no settings).

- A **master key** (32 random bytes, with an id) lives outside the database: a file or an
  environment variable. Several may be configured; the first wraps new data keys, the
  others still unwrap (rotation without downtime).
- A **data key** (32 random bytes) per engagement, coachee, coach and practice purpose is
  stored in the database only *wrapped*: AES-GCM under a master key, its associated data
  naming the data key's id and the master key's id.
- A **sealed value** is AES-GCM under a data key. Its header names the data key, so any
  sealed value can be opened knowing nothing but itself and the keyring; its associated
  data names its place (``table.column``), so a ciphertext moved to another column does
  not open, and one moved to another engagement meets another key and does not open.

Sealed value layout: ``MAGIC (2) | version (1) | data key id (8, big-endian) | nonce (12) |
ciphertext and tag``. Version 0 (``MAGIC | 0 | bytes``) is plaintext mode's form, and a
value without the magic is plaintext from before the encryption migration: both read as
plaintext, and ``ecoach keys encrypt-existing`` seals them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"\xecK"  # never the start of UTF-8 text: 0xEC must be followed by a continuation byte
PLAIN, AES_GCM = 0, 1
_HEAD = len(MAGIC) + 1
_KEY_ID = 8
_NONCE = 12
KEY_BYTES = 32
_MASTER_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
KINDS = ("text", "bytes", "json")


class CryptoError(Exception):
    """A key or a sealed value cannot be used; the message says which and why, in one line."""


# --- master keys -----------------------------------------------------------------------


@dataclass(frozen=True)
class MasterKey:
    id: str
    secret: bytes = field(repr=False)

    def line(self) -> str:
        """``id:key`` as written in master_key_file or master_keys."""
        return f"{self.id}:{base64.urlsafe_b64encode(self.secret).decode()}"


def new_master_key(key_id: str | None = None) -> MasterKey:
    key_id = key_id or f"k{secrets.token_hex(4)}"
    if not _MASTER_ID.match(key_id):
        raise CryptoError(f"master key id {key_id!r}: use 1 to 64 letters, digits, '.', '_' or '-'")
    return MasterKey(key_id, secrets.token_bytes(KEY_BYTES))


def parse_master_keys(text: str, source: str) -> list[MasterKey]:
    """``id:key`` entries separated by newlines or commas (``#`` starts a comment); the
    key is 32 bytes in URL-safe base64. ``source`` names the setting in errors."""
    found: list[MasterKey] = []
    for raw in re.split(r"[\n,]", text):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        key_id, sep, encoded = entry.partition(":")
        key_id, encoded = key_id.strip(), encoded.strip()
        if not sep or not _MASTER_ID.match(key_id):
            raise CryptoError(f"{source}: each master key is written as id:key (id of letters, digits, . _ -)")
        try:
            secret = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            secret = b""
        if len(secret) != KEY_BYTES:
            raise CryptoError(f"{source}: master key {key_id!r} is not 32 bytes in base64 "
                              "(make one with: ecoach keys new)")
        if any(k.id == key_id for k in found):
            raise CryptoError(f"{source}: master key id {key_id!r} is listed twice")
        found.append(MasterKey(key_id, secret))
    return found


class MasterKeys:
    """The configured master keys; ``current`` (the first) wraps new data keys."""

    def __init__(self, keys: list[MasterKey]) -> None:
        if not keys:
            raise CryptoError("no master key given")
        self.keys = {k.id: AESGCM(k.secret) for k in keys}
        self.current = keys[0].id

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(self.keys)

    def wrap(self, data_key_id: int, secret: bytes, master_id: str | None = None) -> tuple[str, bytes]:
        master_id = master_id or self.current
        nonce = secrets.token_bytes(_NONCE)
        return master_id, nonce + self.keys[master_id].encrypt(nonce, secret, _wrap_aad(data_key_id, master_id))

    def unwrap(self, data_key_id: int, master_id: str, wrapped: bytes) -> bytes:
        aead = self.keys.get(master_id)
        if aead is None:
            raise CryptoError(f"data key {data_key_id} needs master key {master_id!r}, which is not configured")
        try:
            return aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _wrap_aad(data_key_id, master_id))
        except (InvalidTag, ValueError):
            raise CryptoError(f"master key {master_id!r} does not open data key {data_key_id}: "
                              "it is not the key this database was encrypted with") from None


def _wrap_aad(data_key_id: int, master_id: str) -> bytes:
    return f"ecoach data key {data_key_id} under {master_id}".encode()


# --- data keys and sealed values ---------------------------------------------------------


class DataKey:
    """One data key, unwrapped: seals and opens values for one place at a time.

    ``place`` is ``"table.column"``; ``kind`` is text (str), bytes or json (any JSON value)."""

    __slots__ = ("id", "_aead", "_mac", "_secret", "_tokens", "_head")

    def __init__(self, key_id: int, secret: bytes | None) -> None:
        self.id = key_id
        self._secret = secret  # kept for re-wrapping under another master key (rotation)
        self._aead = AESGCM(secret) if secret is not None else None
        # A separate key for keyed hashes (blind indexes), never the encryption key itself.
        self._mac = hmac.digest(secret, b"ecoach blind index", "sha256") if secret is not None else PLAIN_MAC
        self._tokens: dict[bytes, str] = {}  # words seen: a text's words repeat, and texts' words too
        self._head = MAGIC + bytes((AES_GCM,)) + key_id.to_bytes(_KEY_ID, "big")  # of each sealed value

    @property
    def plain(self) -> bool:
        return self._aead is None

    def wrap_under(self, masters: MasterKeys, master_id: str | None = None) -> tuple[str, bytes]:
        """This key wrapped under a master key (the current one by default)."""
        if self._secret is None:
            raise CryptoError("plaintext mode's key cannot be wrapped")
        return masters.wrap(self.id, self._secret, master_id)

    def seal_bytes(self, place: str, data: bytes) -> bytes:
        if self._aead is None:
            return MAGIC + bytes((PLAIN,)) + data
        head = self._head
        nonce = os.urandom(_NONCE)  # what secrets.token_bytes returns, two calls fewer (every sealed field)
        return head + nonce + self._aead.encrypt(nonce, data, head + place.encode())

    def open_bytes(self, place: str, blob: bytes) -> bytes:
        if not blob.startswith(MAGIC):
            return blob
        version = blob[2]
        if version == PLAIN:
            return blob[_HEAD:]
        if self._aead is None or key_id_of(blob) != self.id:
            raise CryptoError(f"{place}: sealed with data key {key_id_of(blob)}, not {self.id}")
        start = _HEAD + _KEY_ID
        try:
            return self._aead.decrypt(blob[start:start + _NONCE], blob[start + _NONCE:],
                                      blob[:start] + place.encode())
        except (InvalidTag, ValueError):
            raise CryptoError(f"{place}: a value sealed with data key {self.id} does not open "
                              "(damaged, or moved from another place)") from None

    def seal(self, place: str, kind: str, value: Any) -> bytes:
        return self.seal_bytes(place, encode(kind, value))

    def open(self, place: str, kind: str, blob: bytes) -> Any:
        return decode(kind, self.open_bytes(place, blob))

    def blind(self, purpose: str, value: str) -> str:
        """A keyed hash for equality lookups (e.g. an address), 32 hex characters."""
        return hmac.digest(self._mac, f"{purpose}\0{value}".encode(), "sha256")[:16].hex()

    def word_token(self, word: str, prefix: bool) -> str:
        """A search token: a keyed hash (48 bits) as twelve letters a-p (letters only: a
        full-text parser takes it for one word, never a number)."""
        message = (b"p\0" if prefix else b"w\0") + word.encode()
        found = self._tokens.get(message)
        if found is None:
            if len(self._tokens) >= TOKEN_CACHE:
                self._tokens.clear()
            found = hmac.digest(self._mac, message, "sha256")[:6].hex().translate(_LETTERS)
            self._tokens[message] = found
        return found


# Plaintext mode's keyed hashes use a key everyone knows: they hide nothing, as the mode says.
PLAIN_MAC = hashlib.sha256(b"ecoach plaintext mode").digest()
PLAIN_KEY = DataKey(0, None)


_SEALED_HEAD = MAGIC + bytes((AES_GCM,))


def key_id_of(blob: bytes) -> int | None:
    """The data key a sealed value names; None for plaintext (either form)."""
    if blob[:_HEAD] != _SEALED_HEAD or len(blob) < _HEAD + _KEY_ID:
        return None
    return int.from_bytes(blob[_HEAD:_HEAD + _KEY_ID], "big")


def is_encrypted(blob: bytes) -> bool:
    return key_id_of(blob) is not None


def encode(kind: str, value: Any) -> bytes:
    if kind == "text":
        if not isinstance(value, str):
            raise TypeError(f"a sealed text value must be str, not {type(value).__name__}")
        return value.encode("utf-8")
    if kind == "bytes":
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"a sealed bytes value must be bytes, not {type(value).__name__}")
        return bytes(value)
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def decode(kind: str, data: bytes) -> Any:
    if kind == "bytes":
        return data
    text = data.decode("utf-8")
    return text if kind == "text" else json.loads(text)


# --- search tokens ------------------------------------------------------------------------
#
# Words are casefolded and stripped of accents. A word of three or more letters is indexed
# by its prefixes of 3 to 6 letters, a shorter word as a whole. A query word of 3 to 6
# letters is then one exact token; a longer one uses its 6-letter prefix, and the few rows
# that match are checked against the whole word after opening (``matches``).

_WORD = re.compile(r"\w+", re.UNICODE)
PREFIX_MIN, PREFIX_MAX = 3, 6
MAX_TOKENS = 20_000  # per text: a tsvector holds at most 1 MB
TOKEN_CACHE = 100_000  # words whose tokens a key keeps in memory
_LETTERS = str.maketrans("0123456789", "ghijklmnop")


def words(text: str) -> list[str]:
    if text.isascii():
        return _WORD.findall(text.lower())
    folded = unicodedata.normalize("NFKD", text.casefold())
    stripped = "".join(c for c in folded if not unicodedata.combining(c))
    return _WORD.findall(stripped)


def text_tokens(key: DataKey, text: str) -> str:
    """The space-separated search tokens of a text, each once."""
    seen: dict[str, None] = {}
    for word in dict.fromkeys(words(text)):
        if len(word) < PREFIX_MIN:
            seen[key.word_token(word, prefix=False)] = None
        else:
            for k in range(PREFIX_MIN, min(len(word), PREFIX_MAX) + 1):
                seen[key.word_token(word[:k], prefix=True)] = None
        if len(seen) >= MAX_TOKENS:
            break
    return " ".join(seen)


def query_tokens(key: DataKey, query: str, limit: int = 12) -> tuple[list[str], list[str]]:
    """(tokens every hit has, the query's words that are longer than their token and must
    be checked in the opened text)."""
    tokens, longer = [], []
    for word in dict.fromkeys(words(query)):
        if len(tokens) == limit:
            break
        if len(word) < PREFIX_MIN:
            tokens.append(key.word_token(word, prefix=False))
        else:
            tokens.append(key.word_token(word[:PREFIX_MAX], prefix=True))
            if len(word) > PREFIX_MAX:
                longer.append(word)
    return tokens, longer


def matches(text: str, longer: list[str]) -> bool:
    """Whether every one of ``longer`` begins a word of ``text``."""
    found = words(text)
    return all(any(w.startswith(want) for w in found) for want in longer)
