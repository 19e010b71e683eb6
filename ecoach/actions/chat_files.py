"""Files in the chat, both ways: checked before anything is stored, then stored in one
transaction as an exchange (its text is the file's name) with the file as an
``attachment`` of it (like a mail's) and, for an image, a re-encoded preview.

An upload is keyed by the sender's client id (the exchange's ``external_id``,
``chat:<id>``): sending it again, after a lost answer or from the offline outbox, returns
the first and stores nothing new.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError
from ecoach.actions.exchanges import NewExchange, Recorded, check_can_write, record_exchanges
from ecoach.core.files import CheckedFile, FileRefused, FileRules, Preview, check_file, make_preview
from ecoach.logbook import queries
from ecoach.logbook.mail_models import Attachment
from ecoach.logbook.models import Engagement
from ecoach.logbook.resource_models import AttachmentPreview

log = logging.getLogger(__name__)

_STATUS = {"file_too_large": 413, "image_too_large": 413, "file_unpacks_too_large": 413,
           "file_type_refused": 415, "file_type_mismatch": 415}


class FileError(ActionError):
    """A file refused; ``status`` says how (400, 413 too large, 415 wrong type)."""

    def __init__(self, code: str, message: str, status: int = 400, **params: Any) -> None:
        super().__init__(code, message, **params)
        self.status = status


def refused(exc: FileRefused) -> FileError:
    return FileError(exc.code, exc.message, _STATUS.get(exc.code, 400), **exc.params)


def too_large(size: int, rules: FileRules) -> FileError:
    from ecoach.core.files import check_size

    try:
        check_size(size, rules)
    except FileRefused as exc:
        return refused(exc)
    raise AssertionError("not too large")


@dataclass(frozen=True)
class ReadyFile:
    """A file that passed every check, with its preview when it is an image."""

    checked: CheckedFile
    data: bytes
    preview: Preview | None


def _check_sync(name: str, data: bytes, rules: FileRules) -> ReadyFile:
    try:
        checked = check_file(name, data, rules)
        preview = make_preview(data, rules) if checked.is_image else None
    except FileRefused as exc:
        raise refused(exc) from None
    return ReadyFile(checked, data, preview)


async def check_upload(name: str, data: bytes, rules: FileRules) -> ReadyFile:
    """Name, type, size and content checks and the preview, off the event loop (an
    office file is unpacked to count it; an image is decoded)."""
    return await asyncio.to_thread(_check_sync, name, data, rules)


def file_meta(ready: ReadyFile) -> dict[str, Any]:
    """What the timeline shows of a file besides its name (the exchange's text)."""
    return {"file": {"size": ready.checked.size, "type": ready.checked.content_type,
                     "preview": ready.preview is not None,
                     **({"width": ready.preview.width, "height": ready.preview.height} if ready.preview else {})}}


async def do_store_file(session: AsyncSession, exchange_id: int, ready: ReadyFile) -> int:
    """The file (and its preview) as an attachment of an exchange recorded in this
    transaction; returns the attachment's id."""
    checked = ready.checked
    attachment_id = (await session.execute(
        insert(Attachment).returning(Attachment.id),
        [{"exchange_id": exchange_id, "filename": checked.name, "content_type": checked.content_type,
          "size": checked.size, "data": ready.data}],
    )).scalar_one()
    if ready.preview is not None:
        p = ready.preview
        session.add(AttachmentPreview(attachment_id=attachment_id, exchange_id=exchange_id,
                                      content_type=p.content_type, width=p.width, height=p.height, data=p.data))
        await session.flush()
    return int(attachment_id)


def file_exchange(engagement_id: int, ready: ReadyFile, *, author: str, author_name: str, client_id: str,
                  origin: str | None = None) -> NewExchange:
    """A file in the chat as the exchange writer records it: with chat messages, in their
    group commit (one writer, so a large file never makes a message wait on a database
    lock), the file stored in the same transaction."""

    async def store(session: AsyncSession, recorded: Recorded) -> None:
        await do_store_file(session, recorded.exchange.id, ready)

    return NewExchange(
        engagement_id=engagement_id, channel="chat", direction="in" if author == "coachee" else "out",
        author=author, author_name=author_name, text=ready.checked.name, external_id=f"chat:{client_id}",
        meta=file_meta(ready), origin=origin, also=store)


async def do_send_file(
    session: AsyncSession, engagement: Engagement, ready: ReadyFile, *, author: str, author_name: str,
    client_id: str, now: datetime, origin: str | None = None,
) -> Recorded:
    """A file in the chat from the coachee (``author="coachee"``) or the coach, in the
    caller's transaction; a resend of the same client id returns the first."""
    direction = "in" if author == "coachee" else "out"
    existing = await queries.get_exchange_by_external_id(session, engagement.id, f"chat:{client_id}")
    if existing is not None:
        return Recorded(existing, created=False, coach_id=engagement.coach_id)
    check_can_write(engagement, direction)
    [result] = await record_exchanges(session, [NewExchange(
        engagement_id=engagement.id, channel="chat", direction=direction, author=author,
        author_name=author_name, text=ready.checked.name, external_id=f"chat:{client_id}",
        meta=file_meta(ready), origin=origin,
    )], now, loaded={engagement.id: engagement})
    if isinstance(result, ActionError):
        raise result
    if result.created:
        await do_store_file(session, result.exchange.id, ready)
        log.info("file stored in engagement %s (exchange %s, %s bytes)", engagement.id, result.exchange.id,
                 ready.checked.size)
    return result

