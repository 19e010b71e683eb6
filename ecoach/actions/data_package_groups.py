"""The group part of a member's data package: the group conversations they could read.

For every group the engagement is or was in (``group_queries.get_memberships``): the
member's own messages, and everyone's written while they were in the group. Other
members appear by the name the group page shows them (never their e-mail address); the
package is read in keyset pages like the logbook, so memory stays bounded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.errors import N_
from ecoach.core.zipstream import ZipStream
from ecoach.logbook import group_queries as gq
from ecoach.logbook.group_models import GroupMessage

PAGE = 500
A_MEMBER = N_("A member of the group")

Render = Callable[[str, dict[str, Any]], str]


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def shown_name(message: GroupMessage, engagement_id: int, member_label: str) -> str:
    """The author's name as the group page shows it; a name that is an e-mail address of
    another member is not passed on."""
    if message.author == "coachee" and message.engagement_id != engagement_id and "@" in message.author_name:
        return member_label
    return message.author_name


def message_json(message: GroupMessage, engagement_id: int, member_label: str) -> dict[str, Any]:
    return {"id": message.id, "created_at": _time(message.created_at), "author": message.author,
            "author_name": shown_name(message, engagement_id, member_label),
            "mine": message.author == "coachee" and message.engagement_id == engagement_id,
            "kind": message.kind, "text": message.body_text}


def membership_json(membership: gq.Membership) -> dict[str, Any]:
    return {"id": membership.group.id, "name": membership.group.name, "member_now": membership.current,
            "periods": [{"joined_at": _time(start), "left_at": _time(end)} for start, end in membership.periods]}


async def memberships(session: AsyncSession, engagement_id: int) -> list[gq.Membership]:
    return await gq.get_memberships(session, engagement_id)


async def _pages(sessions: async_sessionmaker[AsyncSession], membership: gq.Membership, engagement_id: int,
                 up_to: datetime) -> AsyncIterator[list[GroupMessage]]:
    after = 0
    while True:
        async with sessions() as session:
            page = await gq.get_readable_page(session, membership, engagement_id, after_id=after, up_to=up_to,
                                              limit=PAGE)
        if not page:
            return
        yield page
        after = page[-1].id


async def json_chunks(sessions: async_sessionmaker[AsyncSession], archive: ZipStream, handle: Any,
                      groups: list[gq.Membership], engagement_id: int, up_to: datetime,
                      member_label: str) -> AsyncIterator[bytes]:
    """Writes ``,"groups":[...]`` into data.json (the caller closes the object)."""
    handle.write(b',"groups":[')
    for number, membership in enumerate(groups):
        head = json.dumps(membership_json(membership), ensure_ascii=False, separators=(",", ":"))
        handle.write(((',' if number else '') + head[:-1] + ',"messages":[').encode())
        count = 0
        async for page in _pages(sessions, membership, engagement_id, up_to):
            items = [json.dumps(message_json(m, engagement_id, member_label), ensure_ascii=False,
                                separators=(",", ":")) for m in page]
            handle.write(((',' if count else '') + ",".join(items)).encode())
            count += len(items)
            yield archive.take()
        handle.write(b']}')
    handle.write(b']')


async def html_chunks(sessions: async_sessionmaker[AsyncSession], archive: ZipStream, handle: Any,
                      groups: list[gq.Membership], engagement_id: int, up_to: datetime, render: Render,
                      base: dict[str, Any], member_label: str) -> AsyncIterator[bytes]:
    """The "Group" part of timeline.html: one section per group."""
    for membership in groups:
        context = {**base, "membership": membership}
        handle.write(render("package/timeline_group.html", {**context, "part": "head"}).encode())
        count = 0
        async for page in _pages(sessions, membership, engagement_id, up_to):
            rows = [(m, shown_name(m, engagement_id, member_label), m.engagement_id == engagement_id)
                    for m in page]
            handle.write(render("package/timeline_group.html", {**context, "part": "rows", "rows": rows}).encode())
            count += len(page)
            yield archive.take()
        handle.write(render("package/timeline_group.html", {**context, "part": "foot", "count": count}).encode())
    yield archive.take()
