"""The inbound pipeline's steps, each on its own: a ``Batch`` in the state the steps before
it leave, one step, and what that step alone decided (on both databases)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.actions.mail_pipeline import (
    STEPS, Batch, Outcome, announce, auto_replies, bounce, dedupe, hold, ledger, record, route, run_pipeline,
)
from ecoach.actions.mail_routing import Route
from ecoach.actions.unit import unit_of_work
from ecoach.core import topics
from ecoach.core.mail.parse import parse_mail
from ecoach.logbook.mail_models import InboundMail, MailOutbox, Quarantine
from ecoach.logbook.models import Exchange
from tests.mail_support import COACHEE, SECRET, World, build_mail, dsn, make_world, take


def batch_of(session, world: World, raws: list[bytes], clock, **given: Any) -> Batch:  # type: ignore[no-untyped-def]
    mail = world.settings.mail
    return Batch(session, raws, [parse_mail(raw, max_bytes=mail.max_bytes) for raw in raws], mail, SECRET,
                 clock.now(), "test", **given)


async def rows(session, stmt) -> list[Any]:  # type: ignore[no-untyped-def]
    return list((await session.execute(stmt)).scalars())


def test_the_steps_are_a_named_list_in_order() -> None:
    assert [name for name, _ in STEPS] == ["dedupe", "bounce", "route", "hold", "record", "crisis", "auto_replies",
                                           "ledger", "announce"]


async def test_dedupe_lets_each_mail_through_once(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    before, new = build_mail(text="Eerder"), build_mail(text="Nieuw")
    await take(world, sessions, hub, clock, before)
    async with sessions() as session:
        batch = batch_of(session, world, [before, new, new], clock)
        await dedupe(batch)
    assert [o.kind if o else None for o in batch.outcomes] == ["duplicate", None, "duplicate"]
    assert batch.todo == [1]


async def test_bounce_fails_our_mail_and_holds_a_stranger_report(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    async with unit_of_work(sessions) as session:
        await do_enqueue_mail(session, raw=b"Subject: x\r\n\r\nx", message_id="<sent-1@coaching.test>",
                              sender="coach@coaching.test", recipient=COACHEE, kind="reply", now=clock.now())
    ours, stranger, normal = dsn("<sent-1@coaching.test>"), dsn("<never@elsewhere.test>"), build_mail()
    async with sessions() as session:
        batch = batch_of(session, world, [ours, stranger, normal], clock, owner_coach_id=world.coach_id)
        batch.todo = [0, 1, 2]
        await bounce(batch)
        [row] = await rows(session, select(MailOutbox))
    assert batch.outcomes[0] == Outcome("bounce", batch.mails[0], bounced=1, changes=batch.outcomes[0].changes)
    assert batch.held == [(1, Route(None, None, "bounce_unmatched", world.coach_id))]
    assert batch.todo == [2] and row.state == "failed"


async def test_route_places_a_known_sender_and_holds_a_stranger(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    async with sessions() as session:
        batch = batch_of(session, world, [build_mail(), build_mail(sender="stranger@else.test")], clock,
                         owner_coach_id=world.coach_id)
        batch.todo = [0, 1]
        await route(batch)
    [(placed, where)] = batch.placeable
    assert placed == 0 and where.engagement.id == world.engagement_id and where.reason is None
    assert [(i, r.reason, r.coach_id) for i, r in batch.held] == [(1, "unknown_sender", world.coach_id)]
    assert batch.todo == [] and batch.outcomes == [None, None]


async def test_hold_quarantines_with_the_reason_for_the_only_coach(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    async with unit_of_work(sessions) as session:
        batch = batch_of(session, world, [build_mail(sender="stranger@else.test")], clock, default_owner=True)
        batch.held = [(0, Route(None, None, "unknown_sender", None))]
        await hold(batch)
    async with sessions() as session:
        [entry] = await rows(session, select(Quarantine))
    assert (entry.reason_code, entry.coach_id, entry.status) == ("unknown_sender", world.coach_id, "held")
    assert batch.outcomes[0].kind == "quarantine" and batch.outcomes[0].quarantine.id == entry.id


async def test_record_puts_placed_mail_in_the_logbook_and_tells_the_pages(  # type: ignore[no-untyped-def]
    sessions, clock, hub, db_url
) -> None:
    world = await make_world(sessions, clock, db_url)
    page = hub.subscribe(topics.engagement(world.engagement_id))
    async with unit_of_work(sessions) as session:
        batch = batch_of(session, world, [build_mail(text="Per mail")], clock)
        batch.todo = [0]
        await route(batch)
        assert page.queue.empty()
        await record(batch)
        assert page.queue.empty()  # not before the commit
    async with sessions() as session:
        [exchange] = await rows(session, select(Exchange).where(Exchange.channel == "mail"))
    assert exchange.body_text == "Per mail" and batch.outcomes[0].recorded.exchange.id == exchange.id
    assert page.queue.get_nowait()["exchange"]["id"] == exchange.id


async def test_auto_replies_answer_an_oversized_mail_once(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, max_bytes=4096, notify_coach="off")
    big = [build_mail(text=f"Groot {n}", attachments=(("scan.png", "image/png", bytes(8000)),)) for n in range(2)]
    async with unit_of_work(sessions) as session:
        batch = batch_of(session, world, big, clock)
        batch.todo = [0, 1]
        await route(batch)
        await record(batch)
        await auto_replies(batch)
    assert [o.queued for o in batch.outcomes] == [1, 0]  # one automatic reply an hour per address
    async with sessions() as session:
        [reply] = await rows(session, select(MailOutbox).where(MailOutbox.kind == "auto_reply"))
    assert reply.recipient == COACHEE


async def test_ledger_keeps_one_row_per_mail_taken_in(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    async with unit_of_work(sessions) as session:
        batch = batch_of(session, world, [build_mail(), build_mail()], clock)
        batch.outcomes = [Outcome("duplicate", batch.mails[0]), Outcome("bounce", batch.mails[1])]
        await ledger(batch)
    async with sessions() as session:
        ledger_rows = await rows(session, select(InboundMail))
    assert [(r.dedupe_key, r.outcome, r.source) for r in ledger_rows] == [
        (batch.mails[1].dedupe_key, "bounce", "test")]


async def test_announce_tells_each_coach_the_new_count_after_commit(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    badge = hub.subscribe(topics.coach(world.coach_id))
    async with unit_of_work(sessions) as session:
        batch = batch_of(session, world, [build_mail(sender="a@else.test"), build_mail(sender="b@else.test")], clock,
                         owner_coach_id=world.coach_id)
        batch.held = [(0, Route(None, None, "unknown_sender", world.coach_id)),
                      (1, Route(None, None, "unknown_sender", world.coach_id))]
        await hold(batch)
        await announce(batch)
        assert badge.queue.empty()
    assert badge.queue.get_nowait() == {"type": "quarantine", "count": 2}
    assert badge.queue.empty()  # once per batch, at its final count


async def test_the_whole_list_gives_every_mail_one_outcome(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    raws = [build_mail(), build_mail(sender="stranger@else.test"), dsn("<never@elsewhere.test>")]
    async with unit_of_work(sessions) as session:
        outcomes = await run_pipeline(batch_of(session, world, raws + raws[:1], clock))
    assert [o.kind for o in outcomes] == ["exchange", "quarantine", "quarantine", "duplicate"]
    async with sessions() as session:
        assert (await session.execute(select(func.count()).select_from(InboundMail))).scalar_one() == 3
