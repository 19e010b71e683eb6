"""Coaching groups: members, the group conversation, group nudges.

A group belongs to one coach. Its members are engagements of that coach: each member
keeps their own one-to-one engagement (logbook, chat link, sessions) and also reads and
writes the group's conversation (``group_message``, a logbook of its own). A message is
stored once, in the caller's unit of work, and reaches every open group page (the coach's
and every member's, in every server process) after the commit, on ``topics.group``.

A member's message counts as unread for the coach (``coaching_group.coach_unread``, shown
in the inbox, live through ``group_unread`` on the coach's topic) until the coach opens the
group page or writes in the group; the first one also mails the coach when the practice
notifies immediately (``group_notify``).

Removing a member closes their open group pages at once (``member_removed``); erasing a
member's engagement deletes their group messages with it (``ecoach.logbook.erasure``
follows ``group_message.engagement_id``; the key that sealed them is destroyed too).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from ecoach.actions.audit import record_audit
from ecoach.actions.coaches import check_time_zone
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import NewExchange, check_can_write, record_exchanges
from ecoach.actions.group_notify import do_notify_group_message
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.inputs import parse_int
from ecoach.logbook import group_queries as gq
from ecoach.logbook.access import get_owned_engagement
from ecoach.logbook.group_models import CoachingGroup, GroupMember, GroupMemberLeft, GroupMessage
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import Settings

log = logging.getLogger(__name__)

MAX_NAME = 120
MAX_MEMBERS = 200
LANGUAGES = ("nl", "en")


def check_group_name(value: object) -> str:
    name = " ".join(str(value or "").split())
    if not name:
        raise ActionError("group_name_missing", N_("Give the group a name."))
    if len(name) > MAX_NAME:
        raise ActionError("group_name_long", N_("A group's name can be at most %(limit)s characters."),
                          limit=MAX_NAME)
    return name


async def do_create_group(session: AsyncSession, coach: Coach, *, name: object, language: object,
                          now: datetime) -> CoachingGroup:
    group = CoachingGroup(coach_id=coach.id, name=check_group_name(name),
                          language=language if language in LANGUAGES else coach.language,
                          time_zone=check_time_zone(coach.time_zone), created_at=now)
    session.add(group)
    await session.flush()
    return group


async def do_add_group_member(session: AsyncSession, coach: Coach, group: CoachingGroup, engagement_id: object,
                              *, now: datetime) -> GroupMember:
    number = parse_int(engagement_id)
    engagement = await get_owned_engagement(session, coach.id, number) if number is not None else None
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    if await gq.get_membership(session, group.id, engagement.id) is not None:
        raise Conflict("member_already", N_("This coachee is in the group already."))
    if await gq.count_members(session, group.id) >= MAX_MEMBERS:
        raise ActionError("group_full", N_("A group can have at most %(limit)s members."), limit=MAX_MEMBERS)
    member = GroupMember(group_id=group.id, engagement_id=engagement.id, joined_at=now)
    session.add(member)
    await session.flush()
    record_audit(session, "group_member_added", coach_id=coach.id, engagement_id=engagement.id, now=now,
                 group=group.id)
    return member


async def do_remove_group_member(session: AsyncSession, coach: Coach, group: CoachingGroup, engagement_id: object,
                                 *, now: datetime) -> None:
    """The member's messages stay in the group's conversation (they were written to the
    group); their open group pages close now."""
    number = parse_int(engagement_id)
    member = await gq.get_membership(session, group.id, number) if number is not None else None
    if member is None:
        raise NotFound("member_unknown", N_("This coachee is not in the group (any more)."))
    await session.execute(delete(GroupMember).where(GroupMember.id == member.id))
    # Kept for the member's right of access: what they could read while in the group.
    session.add(GroupMemberLeft(group_id=group.id, engagement_id=member.engagement_id,
                                joined_at=member.joined_at, left_at=now))
    record_audit(session, "group_member_removed", coach_id=coach.id, engagement_id=member.engagement_id, now=now,
                 group=group.id)
    emit(session, topics.group(group.id), {"type": "member_removed", "group_id": group.id,
                                           "engagement_id": member.engagement_id})


NOT_MEMBER = N_("You are not in this group (any more). Your own chat with your coach is still there.")


async def check_group_member(session: AsyncSession, group_id: object, engagement: Engagement) -> CoachingGroup:
    """The group, if this engagement's coachee is in it; else a clear 404."""
    number = parse_int(group_id)
    group = await gq.get_group_by_id(session, number) if number is not None else None
    if group is None or await gq.get_membership(session, group.id, engagement.id) is None:
        error = NotFound("group_member_removed", NOT_MEMBER)
        error.language = engagement.language
        raise error
    return group


async def write_lock(session: AsyncSession) -> None:
    """On SQLite, take the database's write lock now unless this transaction holds it
    already: a transaction that read first and writes later would otherwise fail at once
    ("database is locked") when the chat's writer committed meanwhile, instead of waiting
    (busy_timeout). PostgreSQL needs nothing: the unique external id settles resends."""
    if session.get_bind().dialect.name != "sqlite":
        return
    raw = await (await session.connection()).get_raw_connection()
    if not raw.driver_connection.in_transaction:
        await session.execute(text("BEGIN IMMEDIATE"))


def message_dict(message: GroupMessage) -> dict[str, Any]:
    """A group message as the group pages' sockets send it (chat.js's exchange shape)."""
    external = message.external_id
    return {
        "id": message.id, "group_id": message.group_id, "channel": "chat",
        "direction": "in" if message.author == "coachee" else "out",
        "author": message.author, "author_name": message.author_name, "text": message.body_text, "html": None,
        "created_at": message.created_at.isoformat(), "kind": message.kind,
        "client_id": external.rsplit(":", 1)[1] if ":chat:" in external else None,
        "member": message.engagement_id, "coach": message.author_coach_id,
    }


async def do_post_group_message(session: AsyncSession, group: CoachingGroup, *, text: str, client_id: str,
                                now: datetime, member: Engagement | None = None, member_name: str = "",
                                coach: Coach | None = None, kind: str = "message",
                                origin: str | None = None, settings: Settings | None = None) -> tuple[GroupMessage, bool]:
    """Store one message (by a member, or by ``coach``); a resend with the same client id
    returns the first one (``created`` False). With ``settings``, a member's first unread
    message mails the coach (``group_notify``)."""
    await write_lock(session)  # before the membership check: a removal committed meanwhile wins
    if member is not None:
        await check_group_member(session, group.id, member)  # under this transaction: removal wins
        check_can_write(member, "in")
        author, name, who = "coachee", member_name, f"m{member.id}"
    elif coach is not None:
        author, name, who = "coach", coach.name, f"c{coach.id}"
    else:
        raise ValueError("a group message needs a member or a coach")
    external_id = f"{who}:chat:{client_id}"
    found = await gq.get_message_by_external_id(session, group.id, external_id)
    if found is not None:
        return found, False
    message = GroupMessage(group_id=group.id, engagement_id=member.id if member else None, coach_id=group.coach_id,
                           author=author, author_coach_id=coach.id if coach else None, kind=kind,
                           author_name=name, body_text=text, external_id=external_id, created_at=now)
    try:
        async with session.begin_nested():
            session.add(message)
    except IntegrityError:  # the same resend, committed meanwhile by another connection
        found = await gq.get_message_by_external_id(session, group.id, external_id)
        if found is None:
            raise
        return found, False
    group.last_message_at = now
    emit(session, topics.group(group.id), {"type": "group_message", "group_id": group.id,
                                           "message": message_dict(message), "origin": origin})
    if member is not None:
        await _count_unread(session, group)
        if settings is not None:
            await do_notify_group_message(session, group, message, settings=settings, now=now)
    else:
        await do_mark_group_read(session, group)  # the coach wrote: they have read the group
    return message, True


def _unread_event(session: AsyncSession, group: CoachingGroup) -> None:
    """The coach's inbox pages redraw (as for a one-to-one message)."""
    emit(session, topics.coach(group.coach_id), {"type": "group_unread", "group_id": group.id,
                                                 "unread": group.coach_unread})


async def _count_unread(session: AsyncSession, group: CoachingGroup) -> None:
    # One atomic increment: members write at the same time.
    stmt = (update(CoachingGroup).where(CoachingGroup.id == group.id)
            .values(coach_unread=CoachingGroup.coach_unread + 1).returning(CoachingGroup.coach_unread)
            .execution_options(synchronize_session=False))
    set_committed_value(group, "coach_unread", (await session.execute(stmt)).scalar_one())
    _unread_event(session, group)


async def do_mark_group_read(session: AsyncSession, group: CoachingGroup) -> None:
    if group.coach_unread:
        await session.execute(update(CoachingGroup).where(CoachingGroup.id == group.id).values(coach_unread=0)
                              .execution_options(synchronize_session=False))
        set_committed_value(group, "coach_unread", 0)
        _unread_event(session, group)


async def do_group_nudge(session: AsyncSession, coach: Coach, group: CoachingGroup, *, text: str, client_id: str,
                         now: datetime) -> int:
    """A nudge to the whole group: in the group's conversation, and in the one-to-one chat
    of every member whose engagement is active (where their notifications come from).
    Returns how many members got it in their own chat."""
    message, created = await do_post_group_message(session, group, text=text, client_id=client_id, now=now,
                                                   coach=coach, kind="nudge")
    if not created:
        return 0
    members = [m for m in await gq.get_member_engagements(session, group.id) if m.status == "active"]
    items = [NewExchange(engagement_id=m.id, channel="chat", direction="out", author="coach",
                         author_name=coach.name, text=text, external_id=f"group-nudge:{message.id}",
                         meta={"group_nudge": group.id}) for m in members]
    results = await record_exchanges(session, items, now, loaded={m.id: m for m in members}) if items else []
    for result in results:
        if isinstance(result, ActionError):
            raise result
    log.info("group %s nudged: %s members", group.id, len(items))
    return len(items)
