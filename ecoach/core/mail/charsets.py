"""Decoding mail text in whatever charset it claims (or none), never failing.

Undecodable bytes are replaced and the mail is flagged ``charset_replaced``; an unknown
or missing charset is guessed (UTF-8, else Windows-1252) and flagged. What comes out is
safe to store: no NUL and no lone surrogates (PostgreSQL refuses both).
"""

from __future__ import annotations

import codecs
import re

# Names mail programs use that Python does not know, or knows as a narrower set.
_ALIASES = {
    "gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6", "ks_c_5601-1987": "cp949", "windows-874": "cp874",
    "x-sjis": "shift_jis", "x-mac-roman": "mac_roman", "unicode-1-1-utf-7": "utf-7",
    "utf8": "utf-8", "x-user-defined": "cp1252", "ansi_x3.4-1968": "ascii",
}
_UNSPECIFIED = {"", "us-ascii", "ascii", "unknown-8bit", "x-unknown", "8bit", "unknown", "default"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _codec(charset: str) -> str | None:
    name = _ALIASES.get(charset, charset)
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    # Only real text encodings: bytes.decode refuses the others (zlib, base64, ...).
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_bytes(data: bytes, charset: str | None, flags: set[str]) -> str:
    name = (charset or "").strip().strip("\"'").lower()[:64]
    codec = None if name in _UNSPECIFIED else _codec(name)
    if codec is None:
        if name not in _UNSPECIFIED:
            flags.add("charset_unknown")
        try:
            return clean_text(data.decode("utf-8"), flags)
        except UnicodeDecodeError:
            if not data.isascii():
                flags.add("charset_guessed")
            codec = "cp1252"
    try:
        return clean_text(data.decode(codec), flags)
    except (UnicodeDecodeError, LookupError, ValueError, TypeError):
        flags.add("charset_replaced")
    try:
        return clean_text(data.decode(codec, "replace"), flags)
    except Exception:  # noqa: BLE001 - a codec that fails even in replace mode
        return clean_text(data.decode("utf-8", "replace"), flags)


def clean_text(text: str, flags: set[str] | None = None) -> str:
    """Text safe for the databases: lone surrogates and NULs replaced, controls dropped."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        if flags is not None:
            flags.add("charset_replaced")
        text = _unescape_surrogates(text)
    return _CONTROL.sub("", text)


def clean_line(text: str, *, keep_newlines: bool = False) -> str:
    """One header value or file name: as ``clean_text``, without line breaks or tabs."""
    text = clean_text(text)
    return text if keep_newlines else _LINE_CONTROL.sub(" ", text)


def _unescape_surrogates(text: str) -> str:
    # Undecoded 8-bit header bytes come out of the email package as surrogate escapes:
    # most often they are UTF-8; anything else becomes U+FFFD.
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
