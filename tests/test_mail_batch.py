"""The inbound pipeline takes a batch set-based: the same outcomes and the same rows as
taking the mails one by one, on both databases, and a fixed number of statements per
batch whatever its size.

Two databases with the same content: one takes a hostile mix of mail one at a time, the
other as one batch (duplicates within the batch, every quarantine reason, bounces,
oversized mail twice from one address, automatic mail, an absence reply, mail for two
coaches); outcomes, rows and published events are compared.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions.availability import ExceptionInput, do_add_exception
from ecoach.actions.engagements import do_change_status, do_create_engagement
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.mail_inbound import Outcome, take_in_mails
from ecoach.actions.mail_outbox import do_enqueue_mail
from ecoach.core.clock import FixedClock
from ecoach.core.events import EventBus
from ecoach.core.hub import Hub
from ecoach.core.topics import coach as coach_topic
from ecoach.logbook.availability_models import AbsenceReply, Commitment
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.mail_models import Attachment, InboundMail, MailOutbox, MailSource, Quarantine
from ecoach.logbook.models import Coach, Engagement, Exchange
from ecoach.logbook.task_models import Task
from ecoach.logbook.transactions import BUS
from tests.conftest import _admin, _copy_sqlite, _drop_database, _with_db, run_async
from tests.mail_support import COACHEE, World, build_mail, dsn, make_world, reply_to, take
from tests.conftest import fresh_keyring
from tests.moments import local_now

ANSWER_ID = "<answer-1@coaching.test>"


@pytest.fixture
async def twin(db_url: str, request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[tuple[str, Any]]:
    """A second fresh database on the same backend as ``db_url``: (url, sessions)."""
    if db_url.startswith("sqlite"):
        path = tmp_path / "twin.db"
        _copy_sqlite(request.getfixturevalue("sqlite_template"), path)
        url, drop = f"sqlite+aiosqlite:///{path}", None
    else:
        server = request.getfixturevalue("postgres_server")
        template = request.getfixturevalue("postgres_template")
        name = f"t_{uuid.uuid4().hex[:16]}"
        run_async(lambda: _admin(server, f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        url, drop = _with_db(server, name), (server, name)
    engine = create_engine(url)
    try:
        yield url, session_factory(engine, EventBus(Hub()), fresh_keyring())
    finally:
        await engine.dispose()
        if drop:
            run_async(lambda: _drop_database(*drop))


async def prepare(sessions, clock: FixedClock, db_url: str) -> World:  # type: ignore[no-untyped-def]
    """Marieke (away this week) with Sanne, a coachee in two engagements, a closed
    engagement, an answer she mailed; Joost with Pim. The same ids in either database."""
    world = await make_world(sessions, clock, db_url, second_coach=True, max_bytes=4096)
    async with sessions() as session:
        coach = await session.get(Coach, world.coach_id)
        for email in ("dual@example.test", "dual@example.test", "closed@example.test"):
            created = await do_create_engagement(session, coach, coachee_name="Ander", coachee_email=email,
                                                 now=clock.now())
        await do_change_status(session, created.engagement, "close", now=clock.now())
        today = local_now(clock).date()  # away from today until the day after tomorrow
        await do_add_exception(session, coach, ExceptionInput("absence", today, today + timedelta(days=2),
                                                              return_note="Ik ben op cursus."), clock.now())
        [answer] = await record_exchanges(session, [NewExchange(
            engagement_id=world.engagement_id, channel="mail", direction="out", author="coach",
            author_name="Marieke Bos", text="Mijn antwoord", external_id="answer-1")], clock.now())
        await do_enqueue_mail(session, raw=b"Subject: antwoord\r\n\r\nMijn antwoord\r\n", message_id=ANSWER_ID,
                              sender="coach@coaching.test", recipient=COACHEE, kind="reply",
                              exchange_id=answer.exchange.id, engagement_id=world.engagement_id, now=clock.now())
        await session.commit()
    world.closed_id = created.engagement.id  # type: ignore[attr-defined]
    return world


def hostile_mix(world: World) -> tuple[bytes, list[bytes]]:
    """(a mail taken in before, the batch): every way a mail can end."""
    before = build_mail(sender="early@else.test", text="Al eerder binnen")  # held: it starts no wait
    plain = build_mail(text="Eerste bericht")
    no_id = build_mail(text="Zonder Message-ID", message_id=None)
    big = {"attachments": (("scan.png", "image/png", bytes(6000)),)}
    batch = [
        plain, plain,  # a duplicate within the batch
        build_mail(to=reply_to(world.engagement_id), text="Via het antwoordadres",
                   attachments=(("verslag.pdf", "application/pdf", b"%PDF-1.4 data"),)),
        build_mail(sender="stranger@else.test", text="Wie ben ik"),
        build_mail(sender="impostor@else.test", to=reply_to(world.engagement_id)),
        build_mail(to=reply_to(world.engagement_id, secret="another-server")),
        build_mail(sender="dual@example.test", text="Welk traject?"),
        build_mail(sender="closed@example.test", to=reply_to(world.closed_id)),  # type: ignore[attr-defined]
        dsn(ANSWER_ID, action="delayed", status="4.4.1"),
        dsn(ANSWER_ID),
        dsn("<never-sent@coaching.test>"),
        build_mail(subject="Groot 1", **big),
        build_mail(subject="Groot 2", **big),  # no second automatic reply within the hour
        build_mail(text="Ik ben er even niet", headers={"Precedence": "bulk"}),
        build_mail(text="Ik ben er even niet " + "x" * 5000, headers={"Auto-Submitted": "auto-replied"}),
        no_id, no_id,  # the same bytes without an id: deduplicated by their hash
        before,
        build_mail(sender="pim@example.test", text="Hallo Joost"),
        build_mail(text="Tweede bericht"),
    ]
    return before, batch


def summary(outcome: Outcome) -> tuple[Any, ...]:
    # (The dedupe key is a keyed hash, and each database has its own key: the mail's id.)
    return (outcome.kind, outcome.mail.message_id or outcome.mail.subject,
            outcome.recorded.exchange.id if outcome.recorded else None,
            outcome.recorded.created if outcome.recorded else None,
            outcome.engagement.id if outcome.engagement else None,
            outcome.quarantine.reason_code if outcome.quarantine else None,
            outcome.quarantine.coach_id if outcome.quarantine else None,
            outcome.queued, outcome.bounced, len(outcome.changes))


async def state(sessions) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Every row the pipeline writes, in a comparable form (outbox mail by content:
    Message-IDs are random)."""
    hashes: dict[str, str] = {}

    def plain(value: Any) -> Any:
        # Keyed hashes (dedupe keys, external ids of mail) differ per database: compared by
        # the order they first appear in.
        if isinstance(value, str) and "b:" in value:
            head, _, tail = value.partition("b:")
            return head + hashes.setdefault(tail, f"hash{len(hashes)}")
        return value

    async with sessions() as session:
        async def rows(stmt):  # type: ignore[no-untyped-def]
            return [tuple(plain(v) for v in row) for row in (await session.execute(stmt)).all()]

        return {
            "inbound": await rows(select(InboundMail.id, InboundMail.dedupe_key, InboundMail.outcome,
                                         InboundMail.exchange_id, InboundMail.quarantine_id).order_by(InboundMail.id)),
            "exchanges": await rows(select(Exchange.id, Exchange.engagement_id, Exchange.external_id,
                                           Exchange.author_name, Exchange.body_text, Exchange.delivery_state,
                                           Exchange.delivery_detail).order_by(Exchange.id)),
            "sources": await rows(select(MailSource.exchange_id, func.length(MailSource.raw)).order_by(MailSource.exchange_id)),
            "attachments": await rows(select(Attachment.id, Attachment.exchange_id, Attachment.filename,
                                             Attachment.size).order_by(Attachment.id)),
            "quarantine": await rows(select(Quarantine.id, Quarantine.reason_code, Quarantine.coach_id,
                                            Quarantine.engagement_id, Quarantine.from_address).order_by(Quarantine.id)),
            "engagements": await rows(select(Engagement.id, Engagement.waiting_since, Engagement.unread_count,
                                             Engagement.last_exchange_id, Engagement.last_inbound_channel,
                                             Engagement.next_due_at).order_by(Engagement.id)),
            "commitments": await rows(select(Commitment.exchange_id, Commitment.due_at, Commitment.state)
                                      .order_by(Commitment.exchange_id)),
            "absence": await rows(select(AbsenceReply.exception_id, AbsenceReply.engagement_id)
                                  .order_by(AbsenceReply.engagement_id)),
            "outbox": Counter(await rows(select(MailOutbox.kind, MailOutbox.recipient, MailOutbox.state,
                                                MailOutbox.engagement_id))),
            "tasks": Counter(await rows(select(Task.name, Task.key, Task.due_at, Task.status))),
        }


def hub_of(sessions: Any) -> Hub:
    """The hub that the events of these sessions' commits reach."""
    return sessions.kw["info"][BUS].hub


def listen(hub: Hub, *coach_ids: int) -> list[Any]:
    return [hub.subscribe(coach_topic(coach_id)) for coach_id in coach_ids]


def heard(subscriptions: list[Any]) -> Counter[tuple[Any, ...]]:
    events: Counter[tuple[Any, ...]] = Counter()
    for sub in subscriptions:
        while not sub.queue.empty():
            event = sub.queue.get_nowait()
            events[(event["type"], (event.get("exchange") or {}).get("id"), event.get("exchange_id"),
                    event.get("count"))] += 1
    return events


@pytest.mark.awkward_clock
async def test_a_batch_ends_exactly_as_one_by_one(sessions, twin, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    twin_url, twin_sessions = twin
    one_world = await prepare(sessions, clock, db_url)
    batch_world = await prepare(twin_sessions, clock, twin_url)
    assert (one_world.engagement_id, one_world.coach_id) == (batch_world.engagement_id, batch_world.coach_id)
    before, raws = hostile_mix(one_world)
    coaches = (one_world.coach_id, one_world.other_coach_id)

    one_hub, batch_hub = hub_of(sessions), hub_of(twin_sessions)
    await take(one_world, sessions, one_hub, clock, before)
    await take(batch_world, twin_sessions, batch_hub, clock, before)
    one_heard, batch_heard = listen(one_hub, *coaches), listen(batch_hub, *coaches)
    one_by_one = [await take(one_world, sessions, one_hub, clock, raw) for raw in raws]
    together = await take_in_mails(twin_sessions, raws, source="test",
                                   settings=batch_world.settings, clock=clock)

    assert [summary(o) for o in together] == [summary(o) for o in one_by_one]
    kinds = [o.kind for o in together]
    assert kinds.count("duplicate") == 3 and kinds.count("bounce") == 2
    assert sorted(o.quarantine.reason_code for o in together if o.quarantine) == [
        "ambiguous", "bad_token", "bounce_unmatched", "engagement_closed", "sender_mismatch", "unknown_sender"]
    assert [o.queued for o in together if o.mail.subject.startswith("Groot")] == [1, 0]
    # The first mail: the coach is told (a wait begins) and Sanne gets the absence reply.
    assert together[0].queued == 2 and together[-2].queued == 1  # Joost is told about Pim
    assert await state(twin_sessions) == await state(sessions)
    # The same exchange and delivery events; the quarantine badge once, at its final count.
    one_events, batch_events = heard(one_heard), heard(batch_heard)
    held = {key for key in one_events if key[0] == "quarantine"}
    assert {k: n for k, n in batch_events.items() if k[0] != "quarantine"} == {
        k: n for k, n in one_events.items() if k not in held}
    final = max(k[3] for k in held)
    assert [k for k in batch_events if k[0] == "quarantine"] == [("quarantine", None, None, final)]
    assert final == 3  # Marieke's: ambiguous, sender_mismatch, engagement_closed
    async with twin_sessions() as session:
        answer = (await session.execute(select(Exchange).where(Exchange.external_id == "answer-1"))).scalar_one()
        ledger = (await session.execute(select(func.count()).select_from(InboundMail))).scalar_one()
    assert answer.delivery_state == "failed"
    assert ledger == len(set(raws) | {before})  # exactly one row per distinct mail


async def test_concurrent_overlapping_batches_store_each_mail_once(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    """Two takers (two mailboxes, or IMAP and LMTP) with overlapping batches at once."""
    world = await make_world(sessions, clock, db_url, notify_coach="off")
    raws = [build_mail(text=f"Gelijktijdig {n}") for n in range(12)]

    async def taker(part: list[bytes]) -> list[Outcome]:
        return await take_in_mails(sessions, part, source="test", settings=world.settings, clock=clock)

    # In the same order, as two mailboxes holding the same mails would give them.
    results = await asyncio.gather(taker(raws[:8]), taker(raws[4:]), taker(raws))
    kinds = Counter(o.kind for batch in results for o in batch)
    assert kinds == {"exchange": 12, "duplicate": 8 + 8 + 12 - 12}
    async with sessions() as session:
        texts = (await session.execute(select(Exchange.body_text).where(Exchange.channel == "mail"))).scalars().all()
        ledger = (await session.execute(select(func.count()).select_from(InboundMail))).scalar_one()
    assert sorted(texts) == sorted(f"Gelijktijdig {n}" for n in range(12)) and ledger == 12


async def test_a_batch_costs_the_same_statements_whatever_its_size(sessions, engine, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, second_coach=True)
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    async def batch(n: int, tag: str) -> int:
        raws = [build_mail(sender=COACHEE if i % 2 else "pim@example.test", text=f"{tag} {i}") for i in range(n)]
        statements.clear()
        outcomes = await take_in_mails(sessions, raws, source="test", settings=world.settings, clock=clock)
        assert [o.kind for o in outcomes] == ["exchange"] * n
        return len(statements)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        await batch(2, "begin")  # both waits begin: notifications and commitment checks
        small, large = await batch(4, "small"), await batch(40, "large")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert small == large, (small, large)
    assert large <= 16, statements  # was about 13 per mail
