"""Save first, deliver second: the outbox against a real SMTP relay, on both databases."""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.coaches import do_add_coach
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.mail_outbox import (
    DeliveryChange,
    do_enqueue_mail,
    do_mark_bounced,
    retry_delay,
)
from ecoach.channels.mail.outbox import OutboxDispatcher
from ecoach.core.clock import FixedClock
from ecoach.core.hub import Hub
from ecoach.core.topics import coach as coach_topic
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Exchange
from ecoach.settings import MailSettings
from tests.dovecot import wait_until
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.conftest import fresh_keyring

SENDER = "coach@coaching.test"


@dataclass
class Seed:
    coach_id: int
    engagements: list[tuple[int, str]]  # (engagement id, coachee address)


@dataclass(frozen=True)
class Queued:
    exchange_id: int | None
    message_id: str
    recipient: str


def settings_for(relay: SmtpRelay, **overrides: Any) -> MailSettings:
    values: dict[str, Any] = dict(enabled=True, domain="coaching.test", smtp_host=relay.host,
                                  smtp_port=relay.port, smtp_timeout=5, retry_base_seconds=30,
                                  retry_max_seconds=3600, retry_max_attempts=5)
    return MailSettings(**(values | overrides))


def dispatcher_for(sessions, relay, clock, hub, **overrides: Any) -> OutboxDispatcher:  # type: ignore[no-untyped-def]
    batch = overrides.pop("batch_size", 100)
    return OutboxDispatcher(sessions, settings_for(relay, **overrides), clock,
                            batch_size=batch, rng=random.Random(7))


async def seed(sessions: async_sessionmaker[AsyncSession], clock: FixedClock, coachees: int = 1) -> Seed:
    async with sessions() as session:
        coach = await do_add_coach(session, name="Marieke Bos", email="marieke@coaching.test",
                                   password="x" * 12, language="nl", time_zone="Europe/Amsterdam",
                                   now=clock.now())
        engagements = []
        for n in range(coachees):
            address = f"coachee{n}@example.test"
            created = await do_create_engagement(session, coach, coachee_name=f"Coachee {n}",
                                                 coachee_email=address, now=clock.now())
            engagements.append((created.engagement.id, address))
        await session.commit()
        return Seed(coach.id, engagements)


def compose(message_id: str, recipient: str, text: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Marieke Bos <{SENDER}>"
    message["To"] = recipient
    message["Subject"] = "Je coaching"
    message["Message-ID"] = message_id
    message.set_content(text)
    return message.as_bytes()


async def queue_replies(sessions, clock, targets: list[tuple[int, str]], *, start: int = 0) -> list[Queued]:  # type: ignore[no-untyped-def]
    """Record one mail exchange per target and queue it, in one transaction."""
    queued = []
    async with sessions() as session:
        for n, (engagement_id, address) in enumerate(targets, start):
            message_id = f"<reply-{n}@coaching.test>"
            [rec] = await record_exchanges(session, [NewExchange(
                engagement_id, "mail", "out", "coach", "Marieke Bos", f"Antwoord {n}", f"mail-out:{n:08d}",
                delivery_state="queued", meta={"message_id": message_id})], clock.now())
            await do_enqueue_mail(session, raw=compose(message_id, address, f"Antwoord {n}"),
                                  message_id=message_id, sender=SENDER, recipient=address, kind="reply",
                                  exchange_id=rec.exchange.id, engagement_id=engagement_id, now=clock.now())
            queued.append(Queued(rec.exchange.id, message_id, address))
        await session.commit()
    return queued


async def outbox(sessions) -> dict[str, MailOutbox]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        rows = (await session.execute(select(MailOutbox).order_by(MailOutbox.id))).scalars()
        return {row.message_id: row for row in rows}


async def exchange(sessions, exchange_id: int) -> Exchange:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        found = await session.get(Exchange, exchange_id)
        assert found is not None
        return found


async def drain(dispatcher: OutboxDispatcher, rounds: int = 200) -> None:
    for _ in range(rounds):
        if not (await dispatcher.run_once()).claimed:
            return
    raise AssertionError("the outbox did not drain")


def events(hub_sub) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """The delivery events heard so far (the answers' own exchange events aside)."""
    found = []
    while not hub_sub.queue.empty():
        event = hub_sub.queue.get_nowait()
        if event["type"] != "exchange":
            found.append(event)
    return found


def test_retry_delay_doubles_up_to_the_cap() -> None:
    assert [retry_delay(n, 30, 3600, 0.0) for n in (1, 2, 3, 8, 9, 40)] == [30, 60, 120, 3600, 3600, 3600]
    assert 27 <= retry_delay(1, 30, 3600, 0.999) < 30  # jitter only brings a retry forward


async def test_delivered_once(sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock)
    sub = hub.subscribe(coach_topic(data.coach_id))
    [mail] = await queue_replies(sessions, clock, data.engagements)
    assert (await exchange(sessions, mail.exchange_id)).delivery_state == "queued"
    dispatcher = dispatcher_for(sessions, smtp_relay, clock, hub)

    result = await dispatcher.run_once()

    assert (result.claimed, len(result.sent)) == (1, 1)
    [received] = smtp_relay.messages
    assert (received.mail_from, received.rcpt_tos) == (SENDER, (mail.recipient,))
    assert received.message_id == mail.message_id and b"Antwoord 0" in received.raw
    row = (await outbox(sessions))[mail.message_id]
    assert (row.state, row.attempts, row.sent_at, row.claimed_until) == ("sent", 1, clock.now(), None)
    assert (await exchange(sessions, mail.exchange_id)).delivery_state == "sent"
    engagement_id = data.engagements[0][0]
    assert events(sub) == [{"type": "delivery", "engagement_id": engagement_id,
                            "exchange_id": mail.exchange_id, "state": "sent", "detail": None}]
    assert (await dispatcher.run_once()).claimed == 0
    assert len(smtp_relay.messages) == 1


async def test_mail_without_exchange_is_sent_quietly(sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock)
    sub = hub.subscribe(coach_topic(data.coach_id))
    async with sessions() as session:
        await do_enqueue_mail(session, raw=compose("<note-1@coaching.test>", "marieke@coaching.test", "Sanne wrote"),
                              message_id="<note-1@coaching.test>", sender=SENDER,
                              recipient="marieke@coaching.test", kind="notification",
                              engagement_id=data.engagements[0][0], now=clock.now())
        await session.commit()
    await drain(dispatcher_for(sessions, smtp_relay, clock, hub))
    assert smtp_relay.message_ids() == ["<note-1@coaching.test>"]
    assert (await outbox(sessions))["<note-1@coaching.test>"].state == "sent"
    assert events(sub) == []  # no logbook entry, nothing to show


async def test_temporary_refusal_retries_with_backoff(sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock)
    sub = hub.subscribe(coach_topic(data.coach_id))
    first, second = await queue_replies(sessions, clock, data.engagements * 2)
    smtp_relay.refuse(first.recipient, "451 4.7.1 Try again later")
    dispatcher = dispatcher_for(sessions, smtp_relay, clock, hub)

    result = await dispatcher.run_once()

    assert result.claimed == 1  # the second mail waits behind the first
    row = (await outbox(sessions))[first.message_id]
    assert (row.state, row.attempts, row.last_error) == ("retrying", 1, "451 4.7.1 Try again later")
    assert timedelta(seconds=27) <= row.next_attempt_at - clock.now() <= timedelta(seconds=30)
    ex = await exchange(sessions, first.exchange_id)
    assert (ex.delivery_state, ex.delivery_detail) == ("retrying", "451 4.7.1 Try again later")
    assert [(e["exchange_id"], e["state"]) for e in events(sub)] == [(first.exchange_id, "retrying")]
    assert (await dispatcher.run_once()).claimed == 0  # not due yet, and nothing overtakes it

    clock._now = row.next_attempt_at  # due again: refused again, the delay doubles
    await dispatcher.run_once()
    row = (await outbox(sessions))[first.message_id]
    assert (row.state, row.attempts) == ("retrying", 2)
    assert timedelta(seconds=54) <= row.next_attempt_at - clock.now() <= timedelta(seconds=60)

    smtp_relay.accept(first.recipient)
    clock.advance(seconds=60)
    await drain(dispatcher)
    assert smtp_relay.message_ids() == [first.message_id, second.message_id]
    rows = await outbox(sessions)
    assert [(rows[m.message_id].state, rows[m.message_id].attempts) for m in (first, second)] == [
        ("sent", 3), ("sent", 1)]
    assert (await exchange(sessions, first.exchange_id)).delivery_state == "sent"
    assert [e["state"] for e in events(sub)] == ["retrying", "sent", "sent"]


async def test_retries_run_out(sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock)
    [mail] = await queue_replies(sessions, clock, data.engagements)
    smtp_relay.refuse(mail.recipient, "451 4.2.2 Mailbox full")
    dispatcher = dispatcher_for(sessions, smtp_relay, clock, hub, retry_max_attempts=3)
    for _ in range(3):
        assert (await dispatcher.run_once()).claimed == 1
        clock.advance(hours=2)
    row = (await outbox(sessions))[mail.message_id]
    assert (row.state, row.attempts) == ("failed", 3)
    ex = await exchange(sessions, mail.exchange_id)
    assert (ex.delivery_state, ex.delivery_detail) == ("failed", "451 4.2.2 Mailbox full (gave up after 3 attempts)")
    assert (await dispatcher.run_once()).claimed == 0


async def test_permanent_refusal_fails_at_once(sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock, coachees=2)
    sub = hub.subscribe(coach_topic(data.coach_id))
    bad, good = await queue_replies(sessions, clock, data.engagements)
    smtp_relay.refuse(bad.recipient, "550 5.1.1 No such user here")

    result = await dispatcher_for(sessions, smtp_relay, clock, hub).run_once()

    assert (result.claimed, len(result.sent), len(result.failed)) == (2, 1, 1)
    assert smtp_relay.message_ids() == [good.message_id]  # the same connection went on
    rows = await outbox(sessions)
    assert (rows[bad.message_id].state, rows[bad.message_id].last_error) == ("failed", "550 5.1.1 No such user here")
    ex = await exchange(sessions, bad.exchange_id)
    assert (ex.delivery_state, ex.delivery_detail) == ("failed", "550 5.1.1 No such user here")
    assert {(e["exchange_id"], e["state"], e["detail"]) for e in events(sub)} == {
        (bad.exchange_id, "failed", "550 5.1.1 No such user here"), (good.exchange_id, "sent", None)}


async def test_relay_outage_loses_and_reorders_nothing(sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock, coachees=2)
    smtp_relay.stop()
    queued = await queue_replies(sessions, clock, data.engagements * 10)  # a, b, a, b, ...
    dispatcher = dispatcher_for(sessions, smtp_relay, clock, hub)

    first = await dispatcher.run_once()
    assert (first.claimed, first.stopped, len(first.retry), len(first.released)) == (2, True, 1, 1)
    rows = await outbox(sessions)
    assert [(rows[m.message_id].state, rows[m.message_id].attempts) for m in queued[:2]] == [
        ("retrying", 1), ("queued", 0)]  # handed back untried: no attempt counted
    assert rows[queued[0].message_id].last_error
    await dispatcher.run_once()
    assert (await dispatcher.run_once()).claimed == 0
    rows = await outbox(sessions)
    assert len(rows) == 20 and {r.state for r in rows.values()} <= {"queued", "retrying"}
    assert all(r.claimed_until is None for r in rows.values())

    smtp_relay.start()  # same port
    clock.advance(seconds=30)
    await drain(dispatcher)

    received = smtp_relay.message_ids()
    assert sorted(received) == sorted(m.message_id for m in queued)  # all, exactly once
    for _, address in data.engagements:
        assert [mid for mid in received if mid in {m.message_id for m in queued if m.recipient == address}] == [
            m.message_id for m in queued if m.recipient == address]
    assert {r.state for r in (await outbox(sessions)).values()} == {"sent"}
    assert {(await exchange(sessions, m.exchange_id)).delivery_state for m in queued} == {"sent"}


async def test_two_dispatchers_never_send_twice(db_url, sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock, coachees=8)
    queued = await queue_replies(sessions, clock, data.engagements * 5)
    other_engine = create_engine(db_url)
    try:
        dispatchers = [dispatcher_for(sessions, smtp_relay, clock, hub, batch_size=3),
                       dispatcher_for(session_factory(other_engine, None, fresh_keyring()), smtp_relay, clock, Hub(), batch_size=3)]

        async def drive(dispatcher: OutboxDispatcher) -> int:
            sent = idle = 0
            while idle < 5:
                result = await dispatcher.run_once()
                sent += len(result.sent)
                idle = 0 if result.claimed else idle + 1
                await asyncio.sleep(0)
            return sent

        counts = await asyncio.gather(*(drive(d) for d in dispatchers))
    finally:
        await other_engine.dispose()

    received = smtp_relay.message_ids()
    assert len(received) == len(set(received)) == len(queued) == sum(counts)
    for _, address in data.engagements:
        mine = [m.message_id for m in queued if m.recipient == address]
        assert [mid for mid in received if mid in set(mine)] == mine
    assert {r.state for r in (await outbox(sessions)).values()} == {"sent"}


async def test_wake_delivers_at_once(sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock)
    sub = hub.subscribe(coach_topic(data.coach_id))
    dispatcher = OutboxDispatcher(sessions, settings_for(smtp_relay), clock, tick_seconds=3600)
    dispatcher.start()
    try:
        await wait_until(lambda: dispatcher.rounds >= 1)  # found nothing; now it waits for a wake
        [mail] = await queue_replies(sessions, clock, data.engagements)
        dispatcher.wake()
        event = await asyncio.wait_for(sub.queue.get(), timeout=10)
        while event["type"] != "delivery":  # the answer's own exchange event came first
            event = await asyncio.wait_for(sub.queue.get(), timeout=10)
    finally:
        await dispatcher.stop()
    assert (event["exchange_id"], event["state"]) == (mail.exchange_id, "sent")
    assert smtp_relay.message_ids() == [mail.message_id]


async def test_bounce_fails_the_mail_and_its_exchange(sessions, clock, hub, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(sessions, clock)
    sub = hub.subscribe(coach_topic(data.coach_id))
    [mail] = await queue_replies(sessions, clock, data.engagements)
    await drain(dispatcher_for(sessions, smtp_relay, clock, hub))
    events(sub)
    changes: list[DeliveryChange] = []
    async with sessions() as session:
        bare = mail.message_id.strip("<>")
        assert await do_mark_bounced(session, [bare, "<unknown@elsewhere.test>"], "5.1.1",
                                     clock.now(), changes=changes) == 1
        assert await do_mark_bounced(session, ["<unknown@elsewhere.test>"], "5.1.1", clock.now()) == 0
        await session.commit()  # the delivery events were registered on the session
    row = (await outbox(sessions))[mail.message_id]
    assert (row.state, row.last_error, row.attempts) == ("failed", "5.1.1", 1)
    ex = await exchange(sessions, mail.exchange_id)
    assert (ex.delivery_state, ex.delivery_detail) == ("failed", "5.1.1")
    assert [(e["exchange_id"], e["state"], e["detail"]) for e in events(sub)] == [(mail.exchange_id, "failed", "5.1.1")]
