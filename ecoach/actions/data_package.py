"""The coachee's data package, streamed: a ZIP file made while it is sent.

What it holds (README "Privacy"; the JSON's schema: ``ecoach/schemas/data-package-1.schema.json``):
- ``readme.txt``: what each file is, in the engagement's language;
- ``data.json``: everything machine-readable (the coachee, the engagement, action steps,
  sessions, every exchange with its attachments' names and places in the ZIP, and the
  group conversations the coachee could read while a member);
- ``timeline.html``: the whole logbook to read in a browser, one self-contained file (no
  script, no outside resource: its Content-Security-Policy allows none), then a "Group"
  part per group the coachee is or was in (``data_package_groups``);
- ``sessions.ics``: the sessions not cancelled, for any calendar program;
- ``attachments/<exchange>/<id>-<name>``: every file that came or went with an exchange;
- ``schema.json``: the schema of data.json.

Memory stays bounded whatever the engagement's size: the logbook is read in keyset pages
(``PAGE`` exchanges, each page in its own short read), each page is written into the ZIP
and handed on (``ZipStream.take``) before the next is read, and attachments are read one
at a time. The package holds the logbook up to the last exchange when it began.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any

import nh3
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions import data_package_groups as groups_part
from ecoach.actions.booking_notices import calendar_event, place_line
from ecoach.actions.errors import N_
from ecoach.core.i18n import gettext_for
from ecoach.core.ics import feed
from ecoach.core.zipstream import DEFLATED, ZipStream
from ecoach.logbook import group_queries as gq
from ecoach.logbook import privacy_queries as pq
from ecoach.logbook import queries
from ecoach.logbook.booking_models import ACTIVE
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange

PAGE = 500  # exchanges per read
ATTACHMENT_PAGE = 200  # attachment names per read (their data: one at a time)
SCHEMA_FILE = "data-package-1.schema.json"
FORMAT, VERSION = "ecoach-data-package", 1

Render = Callable[[str, dict[str, Any]], str]  # (template, context) -> HTML, in the package's language

README = N_(
    "Your data from the coaching with %(coach)s, as it was on %(date)s.\n\n"
    "timeline.html  everything that was written, to read in a browser\n"
    "data.json      the same for computer programs (its description: schema.json)\n"
    "sessions.ics   your sessions, for a calendar program\n"
    "attachments/   the files that were sent with the messages\n\n"
    "Questions about your data? Ask %(coach)s (%(email)s)."
)
SESSION_TITLE = N_("%(type)s with %(name)s")

# The HTML copy keeps formatting and links but loads nothing: no images from outside.
_HTML_TAGS = set(nh3.ALLOWED_TAGS) - {"img"}
_UNSAFE_NAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


@dataclass(frozen=True)
class PackageSpec:
    engagement_id: int
    include_internal: bool  # the coach's private notes and internal entries
    now: datetime


@dataclass(frozen=True)
class _Context:
    engagement: Engagement
    coachee: Coachee
    coach: Coach
    last_id: int
    groups: list[gq.Membership]  # the groups the coachee is or was in


def schema_text() -> bytes:
    return resources.files("ecoach.schemas").joinpath(SCHEMA_FILE).read_bytes()


def file_name(engagement: Engagement, now: datetime) -> str:
    return f"ecoach-data-{engagement.id}-{now:%Y%m%d}.zip"


def attachment_path(exchange_id: int, attachment_id: int, filename: str) -> str:
    """A name that is safe in any file system, unique in the package."""
    safe = _UNSAFE_NAME.sub("_", filename).strip(" .")[:100] or "file"
    return f"attachments/{exchange_id}/{attachment_id}-{safe}"


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


async def package_chunks(sessions: async_sessionmaker[AsyncSession], spec: PackageSpec,
                         render: Render) -> AsyncIterator[bytes]:
    """The ZIP file, piece by piece."""
    async with sessions() as session:
        context = await _context(session, spec.engagement_id)
        head = await _head(session, context, spec)
        calendar = await _calendar(session, context, spec.now)
    archive = ZipStream(when=spec.now)
    _ = gettext_for(context.engagement.language)
    archive.add("readme.txt", (_(README) % {
        "coach": context.coach.name, "email": context.coach.email,
        "date": spec.now.date().isoformat()}).encode(), DEFLATED)
    yield archive.take()
    async for piece in _json(sessions, archive, context, spec, head):
        yield piece
    async for piece in _html(sessions, archive, context, spec, render):
        yield piece
    archive.add("sessions.ics", calendar, DEFLATED)
    archive.add("schema.json", schema_text(), DEFLATED)
    yield archive.take()
    async for piece in _attachments(sessions, archive, context, spec):
        yield piece
    yield archive.close()


async def _context(session: AsyncSession, engagement_id: int) -> _Context:
    engagement = await queries.get_engagement_by_id(session, engagement_id)
    assert engagement is not None  # the caller checked it
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    coach = await queries.get_coach(session, engagement.coach_id)
    assert coachee is not None and coach is not None  # foreign keys
    return _Context(engagement, coachee, coach, await pq.get_last_exchange_id(session, engagement_id),
                    await groups_part.memberships(session, engagement_id))


async def _pages(sessions: async_sessionmaker[AsyncSession], context: _Context,
                 spec: PackageSpec) -> AsyncIterator[tuple[list[Exchange], dict[int, list[pq.AttachmentRow]]]]:
    after = 0
    while True:
        async with sessions() as session:
            page = await pq.get_exchange_page(session, spec.engagement_id, after_id=after, up_to_id=context.last_id,
                                              limit=PAGE, include_internal=spec.include_internal)
            files = await pq.get_attachments_of(session, [x.id for x in page])
        if not page:
            return
        yield page, files
        after = page[-1].id


# --- data.json ----------------------------------------------------------------------------


async def _head(session: AsyncSession, context: _Context, spec: PackageSpec) -> dict[str, Any]:
    engagement, coachee, coach = context.engagement, context.coachee, context.coach
    sponsor = ({"name": engagement.sponsor_name, "email": engagement.sponsor_email}
               if engagement.sponsor_name or engagement.sponsor_email else None)
    steps = await pq.get_action_steps(session, engagement.id)
    booked = await pq.get_engagement_sessions(session, engagement.id)
    return {
        "format": FORMAT, "version": VERSION, "exported_at": _time(spec.now), "language": engagement.language,
        "coach": {"name": coach.name, "email": coach.email},
        "coachee": {"name": coachee.name, "email": coachee.email, "language": coachee.language,
                    "created_at": _time(coachee.created_at)},
        "engagement": {"id": engagement.id, "status": engagement.status, "language": engagement.language,
                       "time_zone": engagement.time_zone, "created_at": _time(engagement.created_at),
                       "paused_at": _time(engagement.paused_at), "closed_at": _time(engagement.closed_at),
                       "sponsor": sponsor},
        "includes_private_notes": spec.include_internal,
        "action_steps": [{"text": s.text, "due_on": s.due_on.isoformat(), "created_by": s.created_by,
                          "created_at": _time(s.created_at), "cancelled_at": _time(s.cancelled_at)} for s in steps],
        "sessions": [_session_json(b, name) for b, name in booked],
    }


def _session_json(b: Any, type_name: str) -> dict[str, Any]:
    return {"uid": b.uid, "type": type_name, "status": b.status, "channel": b.channel,
            "starts_at": _time(b.starts_at), "ends_at": _time(b.ends_at), "location": b.location,
            "meeting_url": b.meeting_url, "attendee_name": b.attendee_name, "attendee_email": b.attendee_email,
            "attendee_time_zone": b.attendee_time_zone, "message": b.attendee_message,
            "created_at": _time(b.created_at), "cancelled_at": _time(b.cancelled_at),
            "cancelled_by": b.cancelled_by}


def exchange_json(x: Exchange, files: list[pq.AttachmentRow]) -> dict[str, Any]:
    return {
        "id": x.id, "created_at": _time(x.created_at), "channel": x.channel, "direction": x.direction,
        "author": x.author, "author_name": x.author_name, "subject": (x.meta or {}).get("subject"),
        "text": x.body_text, "html": x.body_html, "delivery_state": x.delivery_state,
        "attachments": [{"id": a.id, "filename": a.filename, "content_type": a.content_type, "size": a.size,
                         "path": attachment_path(a.exchange_id, a.id, a.filename)} for a in files],
    }


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


async def _json(sessions: async_sessionmaker[AsyncSession], archive: ZipStream, context: _Context,
                spec: PackageSpec, head: dict[str, Any]) -> AsyncIterator[bytes]:
    count = 0
    with archive.open("data.json") as handle:
        # The head as a JSON object, left open for the exchanges.
        handle.write((_dump(head)[:-1] + ',"exchanges":[').encode())
        async for page, files in _pages(sessions, context, spec):
            items = [_dump(exchange_json(x, files.get(x.id, []))) for x in page]
            handle.write(((',' if count else '') + ",".join(items)).encode())
            count += len(items)
            yield archive.take()
        handle.write(f'],"exchange_count":{count}'.encode())
        async for piece in groups_part.json_chunks(sessions, archive, handle, context.groups, spec.engagement_id,
                                                   spec.now, _member_label(context)):
            yield piece
        handle.write(b'}')
    yield archive.take()


def _member_label(context: _Context) -> str:
    return gettext_for(context.engagement.language)(groups_part.A_MEMBER)


# --- timeline.html ------------------------------------------------------------------------


def readable_html(html: str) -> str:
    """An exchange's HTML without anything that loads from elsewhere."""
    return nh3.clean(html, tags=_HTML_TAGS, link_rel="noopener noreferrer nofollow")


async def _html(sessions: async_sessionmaker[AsyncSession], archive: ZipStream, context: _Context,
                spec: PackageSpec, render: Render) -> AsyncIterator[bytes]:
    base = {"engagement": context.engagement, "coachee": context.coachee, "coach": context.coach,
            "now": spec.now, "zone": context.engagement.time_zone, "include_internal": spec.include_internal}
    with archive.open("timeline.html") as handle:
        handle.write(render("package/timeline_head.html", base).encode())
        count = 0
        async for page, files in _pages(sessions, context, spec):
            rows = [(x, readable_html(x.body_html), [(a, attachment_path(a.exchange_id, a.id, a.filename))
                                                    for a in files.get(x.id, [])]) for x in page]
            handle.write(render("package/timeline_page.html", {**base, "rows": rows}).encode())
            count += len(page)
            yield archive.take()
        handle.write(render("package/timeline_foot.html", {**base, "count": count, "part": "timeline"}).encode())
        async for piece in groups_part.html_chunks(sessions, archive, handle, context.groups, spec.engagement_id,
                                                   spec.now, render, base, _member_label(context)):
            yield piece
        handle.write(render("package/timeline_foot.html", {**base, "count": count}).encode())
    yield archive.take()


# --- sessions.ics and attachments ----------------------------------------------------------


async def _calendar(session: AsyncSession, context: _Context, now: datetime) -> bytes:
    _ = gettext_for(context.engagement.language)
    items = []
    for booking, type_name in await pq.get_engagement_sessions(session, context.engagement.id):
        if booking.status not in ACTIVE:
            continue
        title = _(SESSION_TITLE) % {"type": type_name, "name": context.coach.name}
        items.append(calendar_event(booking, title, place_line(booking, _), context.coach, booking.updated_at))
    return feed(items, f"ecoach: {context.coach.name}")


async def _attachments(sessions: async_sessionmaker[AsyncSession], archive: ZipStream, context: _Context,
                       spec: PackageSpec) -> AsyncIterator[bytes]:
    after = 0
    while True:
        async with sessions() as session:
            page = await pq.get_attachment_page(session, spec.engagement_id, after_id=after,
                                                up_to_exchange=context.last_id, limit=ATTACHMENT_PAGE,
                                                include_internal=spec.include_internal)
        if not page:
            return
        for row in page:
            async with sessions() as session:
                data = await pq.get_attachment_data(session, row.id)
            archive.add(attachment_path(row.exchange_id, row.id, row.filename), data)
            del data
            yield archive.take()
        after = page[-1].id
