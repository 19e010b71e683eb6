"""A group session's calendar invite, on both databases: every active member with an
e-mail address gets one (iCalendar REQUEST, the booking's UID, themselves as attendee)
in their own language and time zone, with their own link to the group; a paused member
and a member without an address get none, and no member sees another's address."""

from __future__ import annotations

from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from ecoach.actions.booking_notices import SUBJECTS, when_text
from ecoach.actions.engagements import do_change_status
from ecoach.actions.group_sessions import do_book_group_session
from ecoach.actions.groups import do_add_group_member, do_create_group
from ecoach.actions.session_types import check_session_type, do_save_session_type
from ecoach.core.i18n import gettext_for
from ecoach.logbook import queries
from tests.booking_support import TYPE_FORM, add_windows, calendar_of, ctx, outbox, settings
from tests.group_support import group_with_session_type
from tests.moments import next_weekday


def _text(raw: bytes) -> str:
    message = message_from_bytes(raw, policy=default_policy)
    return message.get_body(("plain",)).get_content()


@pytest.mark.awkward_clock
async def test_every_active_member_gets_the_invite_in_their_language_and_zone(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    coach = await make_coach(email="groupcoach@example.org", language="nl")
    people = [("Sanne", "sanne@example.org", "nl", "Europe/Amsterdam"),
              ("Ahmed", "ahmed@example.org", "en", "America/New_York"),
              ("Noor", "", "nl", "Europe/Amsterdam"), ("Kim", "kim@example.org", "en", "Europe/London")]
    made = {name: await make_engagement(coach, coachee_name=name, coachee_email=email, language=language,
                                        time_zone=zone, secret="test-secret-key")
            for name, email, language, zone in people}
    context = ctx(settings(db_url, mail=True), clock.now())
    async with sessions() as session:
        item, group = await group_with_session_type(session, coach, [c.engagement.id for c in made.values()],
                                                    clock.now())
        kim = await queries.get_engagement_by_id(session, made["Kim"].engagement.id)
        await do_change_status(session, kim, "pause", now=clock.now())
        await session.commit()
    async with sessions() as session:  # the booking in a unit of work of its own, as from the group page
        group = await session.get(type(group), group.id)
        booking, told = await do_book_group_session(session, context, coach, group, type_id=item.id,
                                                    start=next_weekday(clock, 0, 10, after=timedelta(days=2)).isoformat())
        await session.commit()
    assert told == 3  # Sanne, Ahmed and Noor in their timelines; Kim is paused
    invites = [m for m in await outbox(sessions) if m.kind == "invite"]
    assert sorted(m.recipient for m in invites) == ["ahmed@example.org", "sanne@example.org"]
    for mail in invites:
        name, email, language, zone = next(p for p in people if p[1] == mail.recipient)
        created = made[name]
        assert mail.engagement_id == created.engagement.id
        method, calendar = calendar_of(mail.raw)
        [event] = calendar.walk("VEVENT")
        assert method == "REQUEST" and str(event["uid"]) == booking.uid
        assert str(event["attendee"]).lower() == f"mailto:{email}"
        when = when_text(booking.starts_at, booking.ends_at, zone, language)
        subject = gettext_for(language)(SUBJECTS["booked"]) % {"type": item.name, "name": coach.name, "when": when}
        message = message_from_bytes(mail.raw, policy=default_policy)
        assert " ".join(str(message["Subject"]).split()) == " ".join(subject.split())  # unfolded
        text = _text(mail.raw)
        assert when in text and booking.meeting_url in text
        assert f"/c/{created.chat_token}/groups/{group.id}" in text
        others = [p[1] for p in people if p[1] and p[1] != email]
        assert not any(other.encode() in mail.raw for other in others)


@pytest.mark.awkward_clock
async def test_no_invites_when_mail_is_off(sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    coach = await make_coach(email="nomail@example.org")
    created = await make_engagement(coach, coachee_name="Sanne", coachee_email="sanne@example.org")
    async with sessions() as session:
        await add_windows(session, coach.id, "mon-fri 09:00-12:00")
        item = await do_save_session_type(session, coach, check_session_type(TYPE_FORM), type_id=None,
                                          now=clock.now())
        group = await do_create_group(session, coach, name="Najaar", language="nl", now=clock.now())
        await do_add_group_member(session, coach, group, created.engagement.id, now=clock.now())
        await session.commit()
    async with sessions() as session:
        group = await session.get(type(group), group.id)
        await do_book_group_session(session, ctx(settings(db_url), clock.now()), coach, group, type_id=item.id,
                                    start=next_weekday(clock, 0, 10, after=timedelta(days=2)).isoformat())
        await session.commit()
    assert [m for m in await outbox(sessions) if m.kind == "invite"] == []
