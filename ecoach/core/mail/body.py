"""Walking a parsed mail's MIME tree: its text, its HTML, its attachments, and what a
delivery status notification (RFC 3464) says about the mail it returns.

The walk is iterative with a depth limit, so a hostile nesting of thousands of multiparts
costs nothing; a part below the limit is kept as an attachment, not lost.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser

from ecoach.core.mail.charsets import clean_line, decode_bytes
from ecoach.core.mail.quoting import html_to_text

MAX_DEPTH = 30
MAX_PARTS = 500
MAX_FILENAME = 255
_UNSAFE_NAME = re.compile(r"[\\/:*?\"<>|]")


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes


@dataclass
class MailBody:
    plain: list[str] = field(default_factory=list)
    html_parts: list[str] = field(default_factory=list)
    attachments: list[MailAttachment] = field(default_factory=list)
    is_report: bool = False  # a delivery status notification (a bounce)
    is_receipt: bool = False  # any other machine report (read receipts)
    report_action: str | None = None
    report_status: str | None = None
    report_message_ids: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        if self.plain:
            return "\n\n".join(p.strip("\n") for p in self.plain)
        return "\n\n".join(html_to_text(h) for h in self.html_parts)


def read_body(msg: Message, flags: set[str], *, keep_attachments: bool) -> MailBody:
    body = MailBody()
    if _content_type(msg) == "multipart/report":
        try:
            kind = str(msg.get_param("report-type") or "").lower()
        except Exception:  # noqa: BLE001 - an unreadable report type: not a bounce
            kind = ""
        body.is_report, body.is_receipt = kind == "delivery-status", kind != "delivery-status"
    stack: list[tuple[Message, int]] = [(msg, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            flags.add("too_many_parts")
            break
        ctype = _content_type(part)
        if ctype == "message/delivery-status":
            _read_status(part, body)
        elif ctype in ("text/rfc822-headers", "message/rfc822-headers") and body.is_report:
            body.report_message_ids += _header_ids(_payload(part))
        elif ctype in ("message/rfc822", "message/global") and body.is_report:
            body.report_message_ids += _header_ids(_payload(part))
        elif part.is_multipart() and not ctype.startswith("message/") and depth < MAX_DEPTH:
            children = part.get_payload()
            stack.extend((child, depth + 1) for child in reversed(children) if isinstance(child, Message))
        elif part.is_multipart() and not ctype.startswith("message/"):
            flags.add("too_deep")
            _attach(body, part, ctype, flags, keep_attachments)
        elif _is_body_text(part, ctype):
            text = decode_bytes(_payload(part), part.get_content_charset(), flags)
            (body.plain if ctype == "text/plain" else body.html_parts).append(text)
        else:
            _attach(body, part, ctype, flags, keep_attachments)
    return body


def _content_type(part: Message) -> str:
    try:
        return part.get_content_type()
    except Exception:  # noqa: BLE001 - an unreadable Content-Type is plain text (RFC 2045)
        return "text/plain"


def _is_body_text(part: Message, ctype: str) -> bool:
    if ctype not in ("text/plain", "text/html"):
        return False
    try:
        return part.get_content_disposition() != "attachment" and not part.get_filename()
    except Exception:  # noqa: BLE001
        return True


def _payload(part: Message) -> bytes:
    """The decoded bytes of a leaf part, or the bytes of an embedded message."""
    try:
        if part.is_multipart():
            return part.as_bytes(policy=policy.compat32)
        data = part.get_payload(decode=True)
        if isinstance(data, bytes):
            return data
        return str(part.get_payload()).encode("utf-8", "surrogateescape")
    except Exception:  # noqa: BLE001 - keep what can be kept
        return str(part.get_payload()).encode("utf-8", "replace")


def _attach(body: MailBody, part: Message, ctype: str, flags: set[str], keep: bool) -> None:
    if not keep:
        flags.add("attachments_dropped")
        return
    data = _payload(part)
    body.attachments.append(MailAttachment(filename=_filename(part, ctype, len(body.attachments) + 1),
                                       content_type=clean_line(ctype)[:MAX_FILENAME], data=data))


def _filename(part: Message, ctype: str, n: int) -> str:
    try:
        name = part.get_filename() or ""
    except Exception:  # noqa: BLE001
        name = ""
    # Only the last path element, no characters file systems or headers choke on.
    name = _UNSAFE_NAME.sub("_", clean_line(str(name)).replace("\\", "/").rsplit("/", 1)[-1]).strip(" .")
    if not name:
        extension = ".eml" if ctype.startswith(("message/", "multipart/")) else (mimetypes.guess_extension(ctype) or ".bin")
        name = f"attachment-{n}{extension}"
    if len(name) > MAX_FILENAME:
        stem, dot, extension = name.rpartition(".")
        extension = extension[:20] if dot else ""
        name = name[: MAX_FILENAME - len(extension) - 1] + ("." + extension if extension else "")
    return name


def _read_status(part: Message, body: MailBody) -> None:
    """Per-recipient fields of a DSN: the worst action wins (failed over delayed...)."""
    body.is_report = True
    blocks = part.get_payload() if part.is_multipart() else []
    if not blocks:  # some servers send it base64-encoded: parse the decoded fields
        text = _payload(part).replace(b"\r\n", b"\n").split(b"\n\n")
        blocks = [BytesParser(policy=policy.compat32).parsebytes(b, headersonly=True) for b in text]
    for block in blocks:
        if not isinstance(block, Message):
            continue
        action = clean_line(str(block.get("Action", "") or "")).strip().lower()[:32]
        if not action:
            continue
        if body.report_action != "failed":
            status = clean_line(str(block.get("Status", "") or "")).strip()
            diagnostic = clean_line(str(block.get("Diagnostic-Code", "") or "")).strip()
            body.report_action = action
            body.report_status = " ".join(f"{status} {diagnostic}".split())[:500] or action
        for name in ("X-Original-Message-ID", "Original-Message-ID"):
            if block.get(name):
                body.report_message_ids.append(str(block.get(name)))


def _header_ids(data: bytes) -> list[str]:
    try:
        headers = BytesParser(policy=policy.compat32).parsebytes(data, headersonly=True)
        return [str(v) for v in headers.get_all("Message-ID") or []]
    except Exception:  # noqa: BLE001
        return []
