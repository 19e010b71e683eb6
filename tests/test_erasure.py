"""Erasure on both databases: every row of the coachee's engagement goes, in every table,
with its data key, its tasks, queued mail and held mail; another coachee's stays whole;
a content-free record remains; open pages hear of it after the commit."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select, text

from ecoach.actions.erasure import check_erase_confirmation, do_erase_coachee, do_erase_engagement
from ecoach.actions.errors import ActionError
from ecoach.actions.mail_held import do_hold_mails
from ecoach.actions.mail_routing import Route
from ecoach.core.mail.parse import parse_mail
from ecoach.actions.unit import unit_of_work
from ecoach.core import topics
from ecoach.logbook.key_models import DataKeyRecord, Erasure
from ecoach.logbook.models import Base, Coachee, Engagement, Exchange
from ecoach.logbook.tasks import schedule_task
from ecoach.logbook.task_models import Task
from tests.mail_support import COACHEE, build_mail, make_world, reply_to, take


async def _fill(world, sessions, hub, clock, record_exchange) -> None:  # type: ignore[no-untyped-def]
    eid = world.engagement_id
    await record_exchange(eid, "Een chatbericht van Sanne")
    await record_exchange(eid, "Antwoord", direction="out")
    await take(world, sessions, hub, clock, build_mail(to=reply_to(eid), subject="Verslag",
                                                       attachments=(("verslag.txt", "text/plain", b"inhoud"),)))
    raw = build_mail(sender=COACHEE, subject="Verdwaald", text="vastgehouden")
    async with unit_of_work(sessions) as session:  # held for the coach: found by the sender's address
        await do_hold_mails(session, [(parse_mail(raw, max_bytes=10**6), raw, Route(None, None, "unknown_sender", world.coach_id))],
                            clock.now())
        await schedule_task(session, "test.later", clock.now(), {"engagement_id": eid}, now=clock.now())
        await schedule_task(session, "test.other", clock.now(), {"engagement_id": eid + 1000}, now=clock.now())


async def _count_rows(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return {t.name: (await session.execute(select(func.count()).select_from(t))).scalar_one()
                for t in Base.metadata.sorted_tables}


async def test_erasing_a_coachee_leaves_nothing_of_them(sessions, hub, clock, db_url, record_exchange) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, second_coach=True)
    await _fill(world, sessions, hub, clock, record_exchange)
    before = await _count_rows(sessions)
    assert before["attachment"] == 1 and before["quarantine"] == 1 and before["mail_source"] == 1
    async with sessions() as session:
        mine = await session.get(Engagement, world.engagement_id)
        coachee = await session.get(Coachee, mine.coachee_id)
        link = (await session.execute(text("SELECT token_hash FROM chat_link WHERE engagement_id = :e"),
                                      {"e": mine.id})).scalar_one()
    heard = [hub.subscribe(t) for t in (topics.chat_link(link), topics.coach(world.coach_id), topics.KEYS)]

    async with unit_of_work(sessions) as session:
        coachee = await session.get(Coachee, coachee.id)
        erased = await do_erase_coachee(session, coachee, by="coach", coach_id=world.coach_id, now=clock.now())

    after = await _count_rows(sessions)
    gone = {name: before[name] - after[name] for name in before if before[name] != after[name]}
    assert gone["engagement"] == 1 and gone["coachee"] == 1 and gone["exchange"] >= 3
    assert gone["attachment"] == 1 and gone["mail_source"] == 1 and gone["quarantine"] == 1
    assert gone["task"] >= 1 and gone["data_key"] == 2 and gone["data_key_wrap"] == 2
    assert after["erasure"] == 1
    async with sessions() as session:
        assert await session.get(Engagement, world.engagement_id) is None
        assert (await session.execute(select(func.count()).select_from(Task).where(
            Task.name == "test.other"))).scalar_one() == 1  # another engagement's task stays
        record = (await session.execute(select(Erasure))).scalar_one()
        # The other coach's coachee is whole and readable.
        others = (await session.execute(select(Exchange))).scalars().all()
        assert all(x.engagement_id != world.engagement_id for x in others)
        [pim] = (await session.execute(select(Coachee))).scalars().all()
        assert pim.name == "Pim"
    assert (record.kind, record.subject_id, record.erased_by, record.coach_id) == ("coachee", coachee.id, "coach",
                                                                                   world.coach_id)
    assert record.counts == erased.counts and "Sanne" not in str(record.counts)
    assert [sub.queue.get_nowait()["type"] for sub in heard] == ["erased", "status", "keys_destroyed"]


async def test_erasing_an_engagement_keeps_the_coachee_of_other_engagements(  # type: ignore[no-untyped-def]
        sessions, clock, make_coach, make_engagement, record_exchange) -> None:
    coach = await make_coach()
    first = await make_engagement(coach, coachee_name="Anna")
    await record_exchange(first.engagement.id, "eerste traject")
    async with unit_of_work(sessions) as session:
        second = Engagement(coach_id=coach.id, coachee_id=first.coachee.id, language="nl",
                            time_zone="Europe/Amsterdam", status="active", created_at=clock.now(), unread_count=0)
        session.add(second)
    await record_exchange(second.id, "tweede traject")
    async with unit_of_work(sessions) as session:
        engagement = await session.get(Engagement, first.engagement.id)
        await do_erase_engagement(session, engagement, by="command", coach_id=None, now=clock.now())
    async with sessions() as session:
        assert (await session.get(Coachee, first.coachee.id)).name == "Anna"
        assert [x.body_text for x in (await session.execute(select(Exchange))).scalars()] == ["tweede traject"]
        keys = (await session.execute(select(func.count()).select_from(DataKeyRecord).where(
            DataKeyRecord.kind == "engagement"))).scalar_one()
    assert keys == 1


@pytest.mark.parametrize("typed", ["", "   ", "Sann", "Sanne de Vries", None, 3])
def test_erasure_asks_for_the_name(typed: Any) -> None:
    with pytest.raises(ActionError, match="type the coachee's name"):
        check_erase_confirmation("Sanne", typed)
    check_erase_confirmation("Sanne  de Vries", " sanne DE vries ")
