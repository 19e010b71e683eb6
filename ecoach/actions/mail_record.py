"""Recording inbound mail in the logbook: the exchange (one ``record_exchanges`` call for
a whole batch, commitments included), the untouched original and the attachments (one
multi-row insert each)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.exchanges import NewExchange, Recorded, record_exchanges
from ecoach.core.mail.parse import ParsedMail
from ecoach.logbook.mail_models import Attachment, MailSource
from ecoach.logbook.models import Coachee, Engagement


@dataclass(frozen=True)
class PlacedMail:
    """A mail whose engagement is known and whose sender is verified (or a coach chose)."""

    parsed: ParsedMail
    raw: bytes
    engagement: Engagement
    coachee: Coachee


def mail_meta(parsed: ParsedMail) -> dict[str, Any]:
    return {
        "subject": parsed.subject,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to[:5],
        "references": parsed.references[-20:],
        "from": parsed.from_address,
        "flags": parsed.flags,
        "auto_submitted": parsed.auto_submitted,
        "oversized": parsed.oversized,
        "folded": parsed.new_text != parsed.text,
        "size": parsed.size,
        "attachments_dropped": parsed.oversized and "attachments_dropped" in parsed.flags,
        "duplicate_of": parsed.duplicate_of,
    }


def external_id_for(key: str) -> str:
    return "mail:" + (key if len(key) <= 200 else hashlib.sha256(key.encode()).hexdigest())


def kept_original(parsed: ParsedMail, raw: bytes, limit: int) -> bytes:
    """What "show the whole mail" shows. An oversized mail keeps its header and text
    only: its attachments are exactly what the limit is there to keep out."""
    if not parsed.oversized:
        return raw
    ends = [i for i in (raw.find(b"\r\n\r\n"), raw.find(b"\n\n")) if i >= 0]
    head = raw[: min(ends) if ends else 0][:65536]
    note = (f"[ecoach: this mail was {parsed.size} bytes, over the limit of {limit}; "
            "its text is kept, its attachments are not]")
    return head + b"\r\n\r\n" + note.encode() + b"\r\n\r\n" + parsed.text.encode("utf-8")


CAPPED_MARK = "\n\n[…]"


def capped_text(text: str, limit: int | None) -> tuple[str, int | None]:
    """The text the logbook keeps, and its original length when it was cut. A mail of
    many megabytes of text would otherwise become an exchange row twice that size (text
    and HTML) and an engagement page as large; the whole mail stays in its original."""
    if limit is None or len(text) <= limit:
        return text, None
    return text[:limit].rstrip() + CAPPED_MARK, len(text)


def _new_exchange(item: PlacedMail, text_limit: int | None) -> NewExchange:
    parsed, coachee = item.parsed, item.coachee
    from_coachee = (parsed.from_address or "").lower() == (coachee.email or "").lower()
    author_name = coachee.name if from_coachee else (parsed.from_name or parsed.from_address or coachee.name)
    text, cut_from = capped_text(parsed.new_text or parsed.text or "", text_limit)
    meta = mail_meta(parsed)
    if cut_from is not None:
        meta["text_capped"] = cut_from  # the timeline says so, and links the whole mail
    return NewExchange(
        engagement_id=item.engagement.id, channel="mail", direction="in", author="coachee",
        author_name=author_name[:200], text=text,
        external_id=external_id_for(parsed.dedupe_key), meta=meta, force=True,
    )


async def record_mails(
    session: AsyncSession, items: Sequence[PlacedMail], now: datetime, *, limit: int | None = None,
    text_limit: int | None = None,
) -> list[Recorded]:
    """Each mail as an exchange in its engagement's logbook, in order. A mail recorded
    before (the same external id) gets its first exchange back and nothing new. Its text
    is cut at ``text_limit`` characters (``mail.max_text_chars``)."""
    if not items:
        return []
    loaded = {item.engagement.id: item.engagement for item in items}  # read by the routing step
    results = await record_exchanges(session, [_new_exchange(item, text_limit) for item in items], now,
                                     loaded=loaded)
    sources, files = [], []
    for item, result in zip(items, results):
        assert isinstance(result, Recorded)  # force=True: only a missing engagement refuses
        if not result.created:
            continue
        parsed, exchange_id = item.parsed, result.exchange.id
        sources.append({"exchange_id": exchange_id, "raw": kept_original(parsed, item.raw, limit or parsed.size)})
        files += [{"exchange_id": exchange_id, "filename": part.filename, "content_type": part.content_type,
                   "size": len(part.data), "data": part.data} for part in parsed.attachments]
    if sources:
        await session.execute(insert(MailSource), sources)
    if files:
        await session.execute(insert(Attachment), files)
    return results  # type: ignore[return-value]


async def record_mail(
    session: AsyncSession, parsed: ParsedMail, raw: bytes, engagement: Engagement,
    coachee: Coachee, now: datetime, *, limit: int | None = None, text_limit: int | None = None,
) -> Recorded:
    [result] = await record_mails(session, [PlacedMail(parsed, raw, engagement, coachee)], now, limit=limit,
                                  text_limit=text_limit)
    return result
