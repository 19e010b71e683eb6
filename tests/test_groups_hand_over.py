"""Handing a deactivated coach's work to another coach, on both databases: their groups
(with the conversation) go with the engagements, the co-coach roles they held elsewhere
end, and an engagement handed to its own co-coach or supervisor no longer lists them."""

from __future__ import annotations

from sqlalchemy import select

from ecoach.actions import coach_admin
from ecoach.actions.groups import do_add_group_member, do_create_group, do_post_group_message
from ecoach.actions.team import do_add_member
from ecoach.logbook import group_queries as gq
from ecoach.logbook import queries
from ecoach.logbook.access import role_on
from ecoach.logbook.audit_models import AuditEntry
from ecoach.logbook.group_models import CO_COACH, SUPERVISOR, EngagementMember, GroupMessage


async def test_hand_over_moves_groups_and_the_coaches_on_engagements(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock) -> None:
    old, new, other = (await make_coach(email="old@example.org"), await make_coach(email="new@example.org"),
                       await make_coach(email="other@example.org"))
    mine = [await make_engagement(old, coachee_name=name) for name in ("Sanne", "Ahmed")]
    theirs = [await make_engagement(other, coachee_name=name) for name in ("Kim", "Lot")]
    e1, e2, e3, e4 = (mine[0].engagement.id, mine[1].engagement.id, theirs[0].engagement.id,
                      theirs[1].engagement.id)
    async with sessions() as session:
        load = lambda i: queries.get_engagement_by_id(session, i)  # noqa: E731
        # e1: the new coach co-coaches it, `other` supervises it; e2: `other` co-coaches it.
        await do_add_member(session, old, await load(e1), email=new.email, role=CO_COACH, now=clock.now())
        await do_add_member(session, old, await load(e1), email=other.email, role=SUPERVISOR, now=clock.now())
        await do_add_member(session, old, await load(e2), email=other.email, role=CO_COACH, now=clock.now())
        # The old coach co-coaches e3 and supervises e4 (both `other`'s).
        await do_add_member(session, other, await load(e3), email=old.email, role=CO_COACH, now=clock.now())
        await do_add_member(session, other, await load(e4), email=old.email, role=SUPERVISOR, now=clock.now())
        group = await do_create_group(session, old, name="Voorjaar", language="nl", now=clock.now())
        for e in (e1, e2):
            await do_add_group_member(session, old, group, e, now=clock.now())
        await do_post_group_message(session, group, text="Welkom allemaal", client_id="c1", now=clock.now(),
                                    coach=old)
        await session.commit()
        gid = group.id
    async with sessions() as session:
        await coach_admin.do_deactivate(session, None, old.id, now=clock.now())
        assert await coach_admin.do_hand_over(session, old.id, new.id, now=clock.now()) == 2
        await session.commit()
    async with sessions() as session:
        # The group is the new coach's, with its members and its conversation, still readable.
        [row] = await gq.get_groups(session, new.id)
        assert (row.group.id, row.group.name, row.members) == (gid, "Voorjaar", 2)
        assert await gq.get_groups(session, old.id) == []
        [message] = await gq.get_messages(session, gid)
        assert (message.body_text, message.coach_id, message.author_coach_id) == ("Welkom allemaal", new.id, old.id)
        assert message.author_name == old.name
        # e1 was handed to its own co-coach: they own it and are not listed besides; the supervisor stays.
        assert await role_on(session, new.id, e1) == "coach"
        members = {(m.engagement_id, m.coach_id): m.role
                   for m in (await session.execute(select(EngagementMember))).scalars()}
        assert members == {(e1, other.id): SUPERVISOR, (e2, other.id): CO_COACH, (e4, old.id): SUPERVISOR}
        assert await role_on(session, other.id, e2) == CO_COACH
        assert await role_on(session, old.id, e3) is None  # the old coach's co-coach role ended
        # The owner's trail says the co-coach role ended; both coaches' trails count the groups.
        entries = list((await session.execute(select(AuditEntry).order_by(AuditEntry.seq))).scalars())
        ended = [e for e in entries if e.kind == "co_coach_removed"]
        assert [(e.coach_id, e.engagement_id, e.detail.get("member")) for e in ended] == [(other.id, e3, old.id)]
        handed = [e for e in entries if e.kind == "engagements_handed_over"]
        assert {(e.coach_id, e.detail["moved"], e.detail["groups"]) for e in handed} == {(old.id, 2, 1), (new.id, 2, 1)}
        assert len((await session.execute(select(GroupMessage))).scalars().all()) == 1


async def test_hand_over_without_groups_or_team_still_works(sessions, make_coach, make_engagement, clock) -> None:  # type: ignore[no-untyped-def]
    old, new = await make_coach(email="old2@example.org"), await make_coach(email="new2@example.org")
    await make_engagement(old, coachee_name="Bram")
    async with sessions() as session:
        await coach_admin.do_deactivate(session, None, old.id, now=clock.now())
        assert await coach_admin.do_hand_over(session, old.id, new.id, now=clock.now()) == 1
        await session.commit()
    async with sessions() as session:
        assert await gq.get_groups(session, new.id) == [] and len(await queries.get_inbox(session, new.id)) == 1
