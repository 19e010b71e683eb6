"""Helpers for the data-rights tests: an engagement with something of everything (chat
both ways, a mail with attachments, a private note, a booked session), and reading a
data package back."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from typing import Any

import jsonschema
from sqlalchemy import select

from ecoach.actions.engagements import do_new_chat_link
from ecoach.logbook.mail_models import Attachment
from ecoach.logbook.models import Engagement, Exchange
from tests.booking_support import SECRET, book, ctx, settings as booking_settings, setup
from tests.moments import next_weekday

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40  # not text: stored, compared byte for byte
NOTE = "Privé: Sanne lijkt moe, volgende keer naar slaap vragen."


@dataclass
class Rich:
    coach: Any
    engagement_id: int
    chat_token: str
    shared: list[int] = field(default_factory=list)  # exchanges the coachee sees, in order
    note_id: int = 0
    attachments: dict[str, bytes] = field(default_factory=dict)  # filename -> data


async def rich_engagement(sessions, make_coach, make_engagement, record_exchange, clock) -> Rich:  # type: ignore[no-untyped-def]
    """Through the real actions where there are some: booking, chat, notes; the mail's
    attachment rows are added as the mail pipeline stores them."""
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    engagement_id = s.engagement_ids[0]
    outcome = await book(sessions, ctx(booking_settings(), clock.now()), s.tokens[0], s.type_id,
                         next_weekday(clock, 0, 10, after=timedelta(days=2)))  # a Monday, past the notice
    assert outcome.booking is not None
    async with sessions() as session:
        engagement = await session.get(Engagement, engagement_id)
        token = await do_new_chat_link(session, engagement, now=clock.now(), secret=SECRET)
        await session.commit()
    rich = Rich(s.coach, engagement_id, token)
    texts = [("in", "chat", "Hoi Marieke, ik wil beter leren plannen. <script>alert(1)</script>"),
             ("out", "chat", "Mooi doel! Wat lukt nu al wel?"),
             ("in", "mail", "Zie bijlage: mijn weekplanning.\n\nGroet, Sanne")]
    for direction, channel, text in texts:
        meta = {"subject": "Mijn planning"} if channel == "mail" else None
        recorded = await record_exchange(engagement_id, text, direction=direction, channel=channel, meta=meta)
        rich.shared.append(recorded.exchange.id)
    mail_id = rich.shared[-1]
    rich.attachments = {"weekplanning.pdf": PDF, "../../etc/passwd": b"root:x:0:0"}
    async with sessions() as session:
        for name, data in rich.attachments.items():
            session.add(Attachment(exchange_id=mail_id, filename=name, content_type="application/pdf",
                                   size=len(data), data=data))
        await session.commit()
    note = await record_exchange(engagement_id, NOTE, direction="internal", channel="note")
    rich.note_id = note.exchange.id
    async with sessions() as session:  # the booking's own logbook entries count too
        stmt = select(Exchange.id).where(Exchange.engagement_id == engagement_id,
                                         Exchange.direction != "internal").order_by(Exchange.id)
        rich.shared = list((await session.execute(stmt)).scalars())
    return rich


def schema() -> dict[str, Any]:
    return json.loads(resources.files("ecoach.schemas").joinpath("data-package-1.schema.json").read_bytes())


def read_package(body: bytes) -> tuple[zipfile.ZipFile, dict[str, Any]]:
    """The ZIP and its data.json, checked against the committed schema."""
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None  # every entry's CRC matches
    data = json.loads(archive.read("data.json"))
    jsonschema.Draft202012Validator(schema(), format_checker=jsonschema.FormatChecker()).validate(data)
    return archive, data
