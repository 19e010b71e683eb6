"""Parsing inbound mail with the stdlib ``email`` package (policy=default).

Any bytes in, a ``ParsedMail`` out: headers the default policy cannot read are read again
with ``compat32``; every charset decodes (undecodable bytes are replaced and the mail is
flagged); a structure too broken to walk still yields its raw text. Strings that come
out are clean for both databases: no NUL, no lone surrogates, bounded lengths.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from email import policy
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses

from ecoach.core.mail.body import MailAttachment, MailBody, read_body
from ecoach.core.mail.charsets import clean_line, clean_text, decode_bytes
from ecoach.core.mail.policy import MAIL_POLICY
from ecoach.core.mail.quoting import fold_quotes
from ecoach.core.text import normalise_message, sanitize_html

log = logging.getLogger(__name__)

__all__ = ["MailAttachment", "ParsedMail", "parse_mail"]

MAX_SUBJECT = 998
MAX_NAME = 200
MAX_ADDRESS = 320
MAX_ID = 300
MAX_IDS = 50
_MSGID = re.compile(r"<([^<>\s]{1,298})>")
_ADDRESS = re.compile(r"^[^@\s<>\"(),;:\\\[\]]+@[^@\s<>\"(),;:\\\[\]]+$")


@dataclass
class ParsedMail:
    size: int
    dedupe_key: str
    subject: str = ""
    message_id: str | None = None  # with its angle brackets, as in the header
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    from_address: str | None = None
    from_name: str | None = None
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    delivered_to: list[str] = field(default_factory=list)
    return_path: str | None = None
    text: str = ""
    new_text: str = ""  # text without the quoted earlier mail
    html_parts: list[str] = field(default_factory=list, repr=False)  # as sent: unsafe
    attachments: list[MailAttachment] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    auto_submitted: bool = False  # RFC 3834: never answer it automatically
    oversized: bool = False
    is_bounce: bool = False
    bounce_action: str | None = None  # failed, delayed, delivered, relayed, expanded
    bounce_status: str | None = None
    bounce_original_message_ids: list[str] = field(default_factory=list)
    # Set by the pipeline's dedupe step: a mail with the Message-ID of an earlier one but
    # other content is kept, as a possible duplicate of that exchange (its id, if known).
    duplicate_of: int | None = None

    def content_digest(self) -> str:
        """What the mail says (subject, text, attachments), hashed: the same mail delivered
        again has the same digest whatever headers the way there added."""
        digest = hashlib.sha256()
        for part in (self.subject, self.text):
            digest.update(part.encode("utf-8", "replace") + b"\x00")
        for attachment in self.attachments:
            digest.update(attachment.filename.encode("utf-8", "replace") + b"\x00")
            digest.update(hashlib.sha256(attachment.data).digest())
        return digest.hexdigest()

    @cached_property
    def html(self) -> str | None:
        """The HTML body sanitized with nh3; only on demand, as the timeline shows the
        text (sanitizing every mail's HTML on the way in was work thrown away)."""
        return sanitize_html("\n".join(self.html_parts)) if self.html_parts else None


def parse_mail(raw: bytes, *, max_bytes: int) -> ParsedMail:
    """Never raises for any input. A MIME tree the parser cannot take (e.g. nested
    thousands deep) is read for its headers only, its body kept as text and flagged."""
    raw = bytes(raw)
    for whole in (True, False):
        try:
            return _parse(raw, max_bytes, whole=whole)
        except Exception as exc:  # noqa: BLE001 - any bytes in, a ParsedMail out
            log.warning("mail of %d bytes: %s parse failed (%s)", len(raw),
                        "full" if whole else "header", type(exc).__name__)
            log.debug("parse failure", exc_info=True)
    text = normalise_message(clean_text(raw[:max_bytes].decode("utf-8", "replace")))
    return ParsedMail(size=len(raw), dedupe_key=hash_key(raw), text=text, new_text=text,
                      flags=["unparseable"], oversized=len(raw) > max_bytes)


def hash_key(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def _parse(raw: bytes, max_bytes: int, *, whole: bool) -> ParsedMail:
    msg = BytesParser(policy=MAIL_POLICY).parsebytes(raw, headersonly=not whole)
    flags: set[str] = set()
    headers = Headers(msg, raw, flags)
    message_id = first_id(headers.get("Message-ID"))
    key = "mid:" + message_id if message_id else hash_key(raw)  # an id is at most 300 characters
    oversized = len(raw) > max_bytes
    if whole:
        body = read_body(msg, flags, keep_attachments=not oversized)
    else:
        flags.add("unparseable")
        body = MailBody(plain=[decode_bytes(_raw_body(raw)[:max_bytes], None, flags)])
    text = normalise_message(body.text)
    from_name, from_address = (headers.addresses("From") or [(None, None)])[0]
    parsed = ParsedMail(
        size=len(raw), dedupe_key=key, subject=headers.get("Subject")[:MAX_SUBJECT],
        message_id=message_id, in_reply_to=all_ids(headers.get("In-Reply-To"))[:MAX_IDS],
        references=all_ids(headers.get_all("References"))[-MAX_IDS:],
        from_address=from_address, from_name=from_name or None,
        to=[a for _, a in headers.addresses("To") if a], cc=[a for _, a in headers.addresses("Cc") if a],
        delivered_to=[a for name in ("Delivered-To", "X-Original-To", "Envelope-To")
                      for _, a in headers.addresses(name) if a],
        return_path=headers.get("Return-Path").strip() or None,
        text=text, new_text=fold_quotes(text), html_parts=body.html_parts, attachments=body.attachments,
        oversized=oversized,
    )
    parsed.auto_submitted = is_auto_submitted(headers)
    _add_bounce(parsed, body)
    parsed.flags = sorted(flags)
    return parsed


def _raw_body(raw: bytes) -> bytes:
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    return raw[min(ends):].lstrip(b"\r\n") if ends else b""


def _add_bounce(parsed: ParsedMail, body: MailBody) -> None:
    if body.is_receipt:
        parsed.auto_submitted = True
    if not body.is_report:
        return
    parsed.is_bounce = True
    parsed.auto_submitted = True  # a delivery report is never answered
    parsed.bounce_action = body.report_action
    parsed.bounce_status = body.report_status
    parsed.bounce_original_message_ids = [
        mid for value in body.report_message_ids for mid in all_ids(value)
    ][:MAX_IDS]


def is_auto_submitted(headers: Headers) -> bool:
    """RFC 3834 and common practice: mail no program should answer."""
    auto = headers.get("Auto-Submitted").strip().lower()
    if auto and not auto.startswith("no"):
        return True
    if headers.get("Precedence").strip().lower() in ("bulk", "junk", "list", "auto_reply"):
        return True
    if any(headers.has(name) for name in ("X-Autoreply", "X-Autorespond", "X-Autogenerated",
                                           "List-Id", "List-Unsubscribe")):
        return True
    return headers.get("Return-Path").strip() == "<>"


def all_ids(value: str | list[str]) -> list[str]:
    """Message ids in a header value, with their angle brackets, in order, once each."""
    found: list[str] = []
    for text in [value] if isinstance(value, str) else value:
        for match in _MSGID.finditer(text):
            mid = f"<{match.group(1)}>"
            if mid not in found:
                found.append(mid)
    return found


def first_id(value: str) -> str | None:
    ids = all_ids(value)
    if ids:
        return ids[0]
    bare = value.strip()
    # Some programs leave the brackets off: keep a plausible bare id, bracketed.
    if bare and len(bare) < MAX_ID - 2 and "@" in bare and not re.search(r"[\s<>]", bare):
        return f"<{bare}>"
    return None


def clean_address(address: str | None) -> str | None:
    value = clean_line(address or "").strip()
    if not value or len(value) > MAX_ADDRESS or not _ADDRESS.match(value):
        return None
    return value


class Headers:
    """Header values as clean strings. The default policy reads them; where it raises
    on a broken header, the ``compat32`` parse of the same bytes is used instead."""

    def __init__(self, msg: Message, raw: bytes, flags: set[str]) -> None:
        self._msg = msg
        self._raw = raw
        self._flags = flags
        self._compat: Message | None = None

    def _old(self) -> Message:
        if self._compat is None:
            self._compat = BytesParser(policy=policy.compat32).parsebytes(self._raw, headersonly=True)
        return self._compat

    def has(self, name: str) -> bool:
        return self._try(lambda: name in self._msg, lambda: name in self._old(), False)

    def get(self, name: str) -> str:
        values = self.get_all(name)
        return values[0] if values else ""

    def get_all(self, name: str) -> list[str]:
        def modern() -> list[str]:
            values = [_clean_header(str(v)) for v in self._msg.get_all(name) or []]
            if any("\ufffd" in v for v in values):
                self._flags.add("charset_replaced")  # the policy replaced undecodable bytes
            return values

        def old() -> list[str]:
            return [_clean_header(_decode_words(v)) for v in self._old().get_all(name) or []]

        return self._try(modern, old, [])

    def addresses(self, name: str) -> list[tuple[str, str | None]]:
        """(display name, address or None) for each address in every such header."""

        def modern() -> list[tuple[str, str | None]]:
            found = []
            for value in self._msg.get_all(name) or []:
                if not hasattr(value, "addresses"):  # not an address header to the policy
                    found += [(_clean_header(n)[:MAX_NAME], clean_address(a)) for n, a in getaddresses([str(value)])]
                    continue
                for addr in value.addresses:
                    found.append((_clean_header(addr.display_name)[:MAX_NAME], clean_address(addr.addr_spec)))
            return found

        def old() -> list[tuple[str, str | None]]:
            values = [str(v) for v in self._old().get_all(name) or []]
            return [(_clean_header(_decode_words(n))[:MAX_NAME], clean_address(a))
                    for n, a in getaddresses(values)]

        return self._try(modern, old, [])

    def _try(self, modern: Callable[[], object], old: Callable[[], object], empty):  # type: ignore[no-untyped-def]
        try:
            return modern()
        except Exception:  # noqa: BLE001 - the default policy gave up on a broken header
            self._flags.add("header_repaired")
        try:
            return old()
        except Exception:  # noqa: BLE001
            self._flags.add("header_unreadable")
            return empty


def _clean_header(value: str) -> str:
    return " ".join(clean_line(value).split())


def _decode_words(value: object) -> str:
    """RFC 2047 encoded words in a compat32 header value, each in its own charset."""
    text = str(value)
    try:
        parts = decode_header(text)
    except Exception:  # noqa: BLE001
        return text
    out = []
    for chunk, charset in parts:
        out.append(chunk if isinstance(chunk, str) else decode_bytes(chunk, charset, set()))
    return "".join(out)
