"""Composing outgoing mail with the stdlib ``email`` package (policy=default).

Every mail is UTF-8 text/plain with a sanitized text/html alternative, the sender's name in
From, a Message-ID under our domain and, for answers, In-Reply-To/References that keep an
engagement in one thread. Automatic mail carries ``Auto-Submitted`` (RFC 3834) so that no
well-behaved program answers it. A calendar invite (RFC 6047, iMIP) rides along as a
``text/calendar; method=...`` alternative plus an ``invite.ics`` attachment.

Message ids are kept with their angle brackets everywhere (``<id@domain>``), as they
appear in headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from ecoach.core.text import sanitize_html, text_to_html

AUTO_VALUES = ("auto-replied", "auto-generated")
REPLY_PREFIXES = ("re:", "antw:", "aw:", "sv:", "vs:", "réf:", "ref:")
EMPTY_SUBJECT = {"nl": "je bericht", "en": "your message"}
MAX_REFERENCES = 20


def subject_for_reply(subject: str, language: str) -> str:
    """"Re: <subject>" once, however many times the thread went back and forth."""
    subject = " ".join(subject.split())
    if not subject:
        return "Re: " + EMPTY_SUBJECT.get(language, EMPTY_SUBJECT["en"])
    if subject.lower().startswith(REPLY_PREFIXES):
        return subject
    return f"Re: {subject}"


def _address(name: str | None, address: str) -> Address:
    local, _, domain = address.rpartition("@")
    # Header-breaking characters in a display name are dropped, not encoded.
    clean = " ".join((name or "").replace("\r", " ").replace("\n", " ").split())
    return Address(display_name=clean, username=local, domain=domain)


def compose_mail(
    *,
    from_name: str,
    from_address: str,
    to_address: str,
    to_name: str | None,
    reply_to: str | None,
    subject: str,
    text: str,
    html: str | None,
    message_id_domain: str,
    in_reply_to: str | None,
    references: Sequence[str],
    date: datetime,
    auto: str | None = None,
    attachments: Sequence[tuple[str, str, bytes]] = (),
    calendar: tuple[bytes, str] | None = None,
) -> tuple[EmailMessage, str]:
    """Build one mail; returns it with its Message-ID. ``attachments`` are
    (filename, content type, data); ``calendar`` is (ICS bytes, iTIP method)."""
    if auto is not None and auto not in AUTO_VALUES:
        raise ValueError(f"auto must be one of {AUTO_VALUES}")
    message = EmailMessage()
    message["From"] = _address(from_name, from_address)
    message["To"] = _address(to_name, to_address)
    if reply_to:
        message["Reply-To"] = _address(from_name, reply_to)
    message["Subject"] = " ".join(subject.split())
    message["Date"] = format_datetime(date)
    message_id = make_msgid(domain=message_id_domain)
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
    refs = [r for r in references if r][-MAX_REFERENCES:]
    if refs:
        message["References"] = " ".join(refs)
    if auto:
        message["Auto-Submitted"] = auto
        message["X-Auto-Response-Suppress"] = "All"  # Exchange/Outlook: no out-of-office back
    message.set_content(text, charset="utf-8")
    message.add_alternative(sanitize_html(html) if html is not None else text_to_html(text), subtype="html",
                            charset="utf-8")
    if calendar is not None:
        _add_calendar(message, *calendar)
    for filename, content_type, data in attachments:
        maintype, _, subtype = content_type.partition("/")
        message.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                               filename=filename)
    return message, message_id


def _add_calendar(message: EmailMessage, ics: bytes, method: str) -> None:
    message.add_alternative(ics.decode("utf-8"), subtype="calendar", charset="utf-8",
                            params={"method": method})
    message.add_attachment(ics, maintype="application", subtype="ics", filename="invite.ics")
