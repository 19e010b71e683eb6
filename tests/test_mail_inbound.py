"""The inbound mail pipeline on both databases: routing, sender verification, every
quarantine reason, the quarantine pages, oversized auto-replies and coach notifications
through the real SMTP relay, bounces, the reply box and the digest."""

from __future__ import annotations

import asyncio
import random
import re
from datetime import timedelta
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from babel.dates import format_datetime
from sqlalchemy import select

from ecoach.actions import notify
from ecoach.actions.engagements import do_change_status, do_create_engagement
from ecoach.actions.mail_reply import do_send_mail_reply
from ecoach.channels.mail.outbox import OutboxDispatcher
from ecoach.core.clock import FixedClock
from ecoach.actions.unit import unit_of_work
from ecoach.core.topics import coach as coach_topic
from ecoach.logbook import queries
from ecoach.logbook.mail_models import Attachment, InboundMail, MailOutbox, Quarantine
from ecoach.logbook.models import Coach, Coachee, Engagement, Exchange
from ecoach.scheduler.registry import TaskRegistry
from ecoach.scheduler.runner import TaskRunner
from tests.mail_support import (
    COACHEE,
    World,
    build_mail,
    count,
    dsn,
    make_world,
    reply_to,
    take,
)
from tests.moments import at_local, local_now
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.support import app_client, csrf_of, login


def relay_settings(relay: SmtpRelay, **mail) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return {"smtp_host": relay.host, "smtp_port": relay.port, "smtp_timeout": 5, **mail}


async def second_engagement(sessions, clock, world: World, *, email: str = COACHEE) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        coach = await session.get(Coach, world.coach_id)
        created = await do_create_engagement(session, coach, coachee_name="Sanne (2)", coachee_email=email,
                                             now=clock.now())
        await session.commit()
        return created.engagement.id


async def deliver_all(world: World, sessions, clock, hub) -> None:  # type: ignore[no-untyped-def]
    dispatcher = OutboxDispatcher(sessions, world.settings.mail, clock, rng=random.Random(1))
    for _ in range(20):
        if not (await dispatcher.run_once()).claimed:
            return
    raise AssertionError("the outbox did not drain")


def headers_of(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=default_policy)


# --- routing and sender verification ------------------------------------------------------


async def test_token_in_to_cc_or_delivered_to_finds_the_engagement(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    # The same coachee in two engagements: only the token tells them apart.
    target = await second_engagement(sessions, clock, world)
    address = reply_to(target)
    for raw in (build_mail(to=address), build_mail(to="someone@else.test", cc=f"Coach <{address}>"),
                build_mail(headers={"Delivered-To": address})):
        outcome = await take(world, sessions, hub, clock, raw)
        assert outcome.kind == "exchange", (outcome.quarantine.reason_code, outcome.mail.to, outcome.mail.cc)
        assert outcome.recorded.exchange.engagement_id == target
    assert await count(sessions, Exchange, Exchange.engagement_id == target) == 3


async def test_known_sender_without_token(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    sub = hub.subscribe(coach_topic(world.coach_id))
    outcome = await take(world, sessions, hub, clock, build_mail(sender=COACHEE.upper(), text="Zonder token"))
    assert outcome.kind == "exchange" and outcome.recorded.exchange.engagement_id == world.engagement_id
    exchange = outcome.recorded.exchange
    assert (exchange.channel, exchange.direction, exchange.author_name) == ("mail", "in", "Sanne")
    event = sub.queue.get_nowait()  # published after the commit
    assert event["type"] == "exchange" and event["exchange"]["text"] == "Zonder token"
    async with sessions() as session:
        engagement = await session.get(Engagement, world.engagement_id)
    assert engagement.last_inbound_channel == "mail" and engagement.waiting_since == clock.now()


async def test_every_quarantine_reason(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    twin = await second_engagement(sessions, clock, world)
    closed = await second_engagement(sessions, clock, world, email="closed@example.test")
    async with unit_of_work(sessions) as session:
        await do_change_status(session, await session.get(Engagement, closed), "close", now=clock.now())
    cases = {
        "unknown_sender": build_mail(sender="stranger@else.test"),
        "ambiguous": build_mail(),  # COACHEE has two active engagements and no token
        "bad_token": build_mail(to=reply_to(world.engagement_id, secret="another-server")),
        "sender_mismatch": build_mail(sender="impostor@else.test", to=reply_to(world.engagement_id)),
        "engagement_closed": build_mail(sender="closed@example.test", to=reply_to(closed)),
        "bounce_unmatched": dsn("<never-sent@coaching.test>"),
    }
    two_tokens = build_mail(to=f"{reply_to(world.engagement_id)}, {reply_to(twin)}")
    for reason, raw in [*cases.items(), ("ambiguous", two_tokens)]:
        outcome = await take(world, sessions, hub, clock, raw)
        assert outcome.kind == "quarantine", reason
        entry = outcome.quarantine
        assert (entry.reason_code, entry.status, entry.coach_id, entry.raw) == (reason, "held", world.coach_id, raw)
    async with sessions() as session:
        by_reason = {q.reason_code: q for q in (await session.execute(select(Quarantine))).scalars()}
    assert by_reason["sender_mismatch"].engagement_id == world.engagement_id
    assert by_reason["engagement_closed"].engagement_id == closed
    assert await count(sessions, Exchange, Exchange.channel == "mail") == 0  # nothing placed, nothing lost


# --- the quarantine in the browser ----------------------------------------------------------


async def test_quarantine_pages_assign_release_discard(sessions, clock, hub, db_url, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, second_coach=True, **relay_settings(smtp_relay))
    # Two coaches: the mailbox's coach (owner) sees what no engagement claims.
    mine = {"owner_coach_id": world.coach_id}
    stranger = await take(world, sessions, hub, clock, build_mail(sender="new@else.test", text="Ik wil coaching"), **mine)
    mismatch = await take(world, sessions, hub, clock, build_mail(sender="partner@else.test",
                                                                  to=reply_to(world.engagement_id), text="Namens Sanne"))
    spam = await take(world, sessions, hub, clock, build_mail(sender="spam@else.test", subject="Win!"), **mine)
    ids = [o.quarantine.id for o in (stranger, mismatch, spam)]
    async with app_client(world.settings, clock) as client, app_client(world.settings, clock) as other:
        await login(client, world.coach_email)
        await login(other, world.other_coach_email)
        inbox = await (await client.get("/")).text()
        assert re.search(r'id="quarantine-count"[^>]*>3<', inbox)  # the badge in the inbox
        page = await (await client.get("/quarantine")).text()
        assert all(f'id="q{i}"' in page for i in ids) and "Ik wil coaching" in page
        assert "Nothing in quarantine." in await (await other.get("/quarantine")).text()  # Joost reads English

        # Another coach: every route is a 404, nothing changes.
        token = await csrf_of(other, "/")
        assert (await other.get(f"/quarantine/{ids[0]}/original")).status == 404
        for action in ("assign", "release", "discard"):
            response = await other.post(f"/quarantine/{ids[1]}/{action}", allow_redirects=False,
                                        data={"_csrf": token, "engagement_id": str(world.engagement_id)})
            assert response.status == 404, action

        async with app_client(world.settings, clock) as anonymous:  # no login: to the login page
            for path in ("/quarantine", f"/quarantine/{ids[0]}/original"):
                response = await anonymous.get(path, allow_redirects=False)
                assert response.status == 303 and response.headers["Location"].startswith("/login"), path
        forged = await client.post(f"/quarantine/{ids[2]}/discard", data={}, allow_redirects=False)
        assert forged.status == 403  # no CSRF token

        original = await client.get(f"/quarantine/{ids[0]}/original")
        assert original.status == 200 and original.content_type == "text/plain"
        assert "sandbox" in original.headers["Content-Security-Policy"]
        assert "Ik wil coaching" in await original.text()

        token = await csrf_of(client, "/quarantine")
        assigned = await client.post(f"/quarantine/{ids[0]}/assign", allow_redirects=False,
                                     data={"_csrf": token, "engagement_id": str(world.engagement_id)})
        assert assigned.status == 303 and assigned.headers["Location"].startswith(f"/engagements/{world.engagement_id}#x")
        released = await client.post(f"/quarantine/{ids[1]}/release", data={"_csrf": token}, allow_redirects=False)
        assert released.status == 303
        discarded = await client.post(f"/quarantine/{ids[2]}/discard", data={"_csrf": token}, allow_redirects=False)
        assert (discarded.status, discarded.headers["Location"]) == (303, "/quarantine?done=discarded")
        again = await client.post(f"/quarantine/{ids[2]}/assign", allow_redirects=False,
                                  data={"_csrf": token, "engagement_id": str(world.engagement_id)})
        assert again.status == 400  # dealt with already

        timeline = await (await client.get(f"/engagements/{world.engagement_id}")).text()
        assert "Ik wil coaching" in timeline and "Namens Sanne" in timeline
        assert re.search(r'id="quarantine-count"[^>]*hidden', timeline)
        assert "spam@else.test" in await (await client.get("/quarantine?status=discarded")).text()
        assert "new@else.test" in await (await client.get("/quarantine?status=assigned")).text()
        assert "partner@else.test" in await (await client.get("/quarantine?status=released")).text()
    async with sessions() as session:
        statuses = {q.id: q.status for q in (await session.execute(select(Quarantine))).scalars()}
        exchanges = (await session.execute(select(Exchange).where(Exchange.channel == "mail"))).scalars().all()
    assert statuses == dict(zip(ids, ["assigned", "released", "discarded"]))
    assert sorted(x.author_name for x in exchanges) == ["Sanne de Vries", "Sanne de Vries"]


async def test_folded_quote_whole_mail_and_attachments(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, second_coach=True)
    text = "Dank je, dat helpt.\n\nOp di 24 nov. 2026 om 10:00 schreef Marieke Bos <coach@coaching.test>:\n> Oude vraag"
    outcome = await take(world, sessions, hub, clock, build_mail(
        text=text, attachments=(("verslag.pdf", "application/pdf", b"%PDF-1.4 data"),
                                ("<script>.html", "text/html", b"<script>alert(1)</script>"))))
    exchange = outcome.recorded.exchange
    assert exchange.body_text == "Dank je, dat helpt." and exchange.meta["folded"] is True
    async with sessions() as session:
        files = (await session.execute(select(Attachment).order_by(Attachment.id))).scalars().all()
    eid, xid = world.engagement_id, exchange.id
    async with app_client(world.settings, clock) as client, app_client(world.settings, clock) as other:
        await login(client, world.coach_email)
        await login(other, world.other_coach_email)
        page = await (await client.get(f"/engagements/{eid}")).text()
        assert "Dank je, dat helpt." in page and "Oude vraag" not in page
        assert f'href="/engagements/{eid}/exchanges/{xid}/original"' in page and "Hele mail tonen" in page
        whole = await client.get(f"/engagements/{eid}/exchanges/{xid}/original")
        assert whole.content_type == "text/plain" and "> Oude vraag" in await whole.text()
        download = await client.get(f"/engagements/{eid}/attachments/{files[0].id}")
        assert await download.read() == b"%PDF-1.4 data"
        assert download.headers["Content-Disposition"].startswith('attachment; filename="verslag.pdf"')
        hostile = await client.get(f"/engagements/{eid}/attachments/{files[1].id}")
        assert hostile.content_type == "application/octet-stream" and "attachment;" in hostile.headers["Content-Disposition"]
        for path in (f"/engagements/{eid}/exchanges/{xid}/original", f"/engagements/{eid}/attachments/{files[0].id}"):
            assert (await other.get(path)).status == 404, path
        async with sessions() as session:
            others = await queries.get_inbox(session, world.other_coach_id)
        oid = others[0].engagement.id  # the other coach's own engagement does not open ours
        assert (await other.get(f"/engagements/{oid}/exchanges/{xid}/original")).status == 404
        assert (await other.get(f"/engagements/{oid}/attachments/{files[0].id}")).status == 404


# --- answers the pipeline sends, through the real relay -------------------------------------


async def test_oversized_mail_gets_an_auto_reply_at_the_relay(sessions, clock, hub, db_url, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, max_bytes=4096, notify_coach="off", **relay_settings(smtp_relay))
    raw = build_mail(subject="Mijn verslag", to=reply_to(world.engagement_id), message_id="<big@example.test>",
                     attachments=(("scan.png", "image/png", bytes(8000)),))
    outcome = await take(world, sessions, hub, clock, raw)
    assert outcome.kind == "exchange" and outcome.queued == 1
    await deliver_all(world, sessions, clock, hub)
    [received] = smtp_relay.messages
    message = headers_of(received.raw)
    assert received.rcpt_tos == (COACHEE,) and message["Auto-Submitted"] == "auto-replied"
    assert message["In-Reply-To"] == "<big@example.test>" and message["Subject"] == "Je mail was te groot"
    assert "Mijn verslag" in message.get_body(("plain",)).get_content()
    # The same mail again (a resend by IMAP or the MTA) changes nothing.
    assert (await take(world, sessions, hub, clock, raw)).kind == "duplicate"
    await deliver_all(world, sessions, clock, hub)
    assert len(smtp_relay.messages) == 1


async def test_no_auto_reply_to_auto_submitted_mail(sessions, clock, hub, db_url, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, max_bytes=4096, notify_coach="off", **relay_settings(smtp_relay))
    for n, header in enumerate(({"Auto-Submitted": "auto-generated"}, {"Precedence": "bulk"},
                                {"Return-Path": "<>"}, {"X-Autoreply": "yes"})):
        raw = build_mail(text=f"Vakantie {n} " + "x" * 5000, headers=header)
        outcome = await take(world, sessions, hub, clock, raw)
        assert outcome.kind == "exchange" and outcome.mail.oversized and outcome.queued == 0
    await deliver_all(world, sessions, clock, hub)
    assert smtp_relay.messages == []


async def test_bounce_marks_the_answer_failed(sessions, clock, hub, db_url, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, **relay_settings(smtp_relay))
    async with sessions() as session:
        engagement = await session.get(Engagement, world.engagement_id)
        coach = await session.get(Coach, world.coach_id)
        coachee = await session.get(Coachee, engagement.coachee_id)
        answer = await do_send_mail_reply(session, engagement=engagement, coachee=coachee, coach=coach,
                                          text="Mijn antwoord", client_id="answer-0001", mail=world.settings.mail,
                                          secret=world.settings.resolved_secret(), now=clock.now())
        await session.commit()
    await deliver_all(world, sessions, clock, hub)
    [sent] = smtp_relay.messages
    sub = hub.subscribe(coach_topic(world.coach_id))
    delayed = await take(world, sessions, hub, clock, dsn(sent.message_id, action="delayed", status="4.4.1"))
    assert (delayed.kind, delayed.bounced) == ("bounce", 0)
    outcome = await take(world, sessions, hub, clock, dsn(sent.message_id))
    assert (outcome.kind, outcome.bounced) == ("bounce", 1)
    async with sessions() as session:
        exchange = await session.get(Exchange, answer.exchange.id)
    assert exchange.delivery_state == "failed" and exchange.delivery_detail.startswith("5.1.1 smtp; 550")
    event = sub.queue.get_nowait()
    assert (event["type"], event["exchange_id"], event["state"]) == ("delivery", exchange.id, "failed")
    assert await count(sessions, Quarantine) == 0


async def test_coach_is_notified_once_while_the_coachee_waits(sessions, clock, hub, db_url, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, **relay_settings(smtp_relay))
    first = await take(world, sessions, hub, clock, build_mail(text="Eerste"))
    second = await take(world, sessions, hub, clock, build_mail(text="Tweede"))
    assert (first.queued, second.queued) == (1, 0)  # the coachee was already waiting
    await deliver_all(world, sessions, clock, hub)
    [note] = smtp_relay.messages
    message = headers_of(note.raw)
    assert note.rcpt_tos == (world.coach_email,) and message["Auto-Submitted"] == "auto-generated"
    body = message.get_body(("plain",)).get_content()
    assert "Sanne" in body and f"/engagements/{world.engagement_id}" in body and "Eerste" not in body


async def test_no_immediate_notification_when_off_or_digest(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, notify_coach="off")
    assert (await take(world, sessions, hub, clock, build_mail(text="Bericht"))).queued == 0
    world.settings.mail.notify_coach = "digest"
    other = await second_engagement(sessions, clock, world, email="other@example.test")
    outcome = await take(world, sessions, hub, clock, build_mail(sender="other@example.test", text="Ander"))
    assert outcome.kind == "exchange" and outcome.recorded.exchange.engagement_id == other
    assert outcome.queued == 0
    assert await count(sessions, MailOutbox) == 0


@pytest.mark.awkward_clock
async def test_daily_digest_through_the_task_runner(sessions, clock, hub, db_url, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, notify_coach="digest", digest_hour=7, **relay_settings(smtp_relay))
    registry = TaskRegistry()
    notify.register_tasks(registry)
    runner = TaskRunner(sessions, registry, world.settings, clock)

    async def fire() -> None:
        assert await runner.fire_recurring(notify.DIGEST_TASK, clock.now())
        assert await runner.run_once() >= 1  # the digest task, and a commitment check once one is due

    await fire()  # nobody wrote: no digest
    wrote = clock.now()
    await take(world, sessions, hub, clock, build_mail(text="Hulp gevraagd"))
    clock.advance(minutes=30)
    await fire()
    if local_now(clock).hour < 7:  # today's digest hour (07:00) has not come yet: none before it
        assert await count(sessions, MailOutbox, MailOutbox.kind == "digest") == 0
        clock.set(at_local(local_now(clock).date(), 7, 30))
        await fire()
    # Today's digest hour has passed and Sanne waits: one digest.
    clock.advance(hours=1)
    await fire()  # one a day
    await deliver_all(world, sessions, clock, hub)
    [digest] = smtp_relay.messages
    message = headers_of(digest.raw)
    assert digest.rcpt_tos == (world.coach_email,) and message["Subject"] == "Coachees die op je antwoord wachten"
    body = message.get_body(("plain",)).get_content()
    since = format_datetime(local_now(FixedClock(wrote)), "d MMM y, HH:mm", locale="nl")
    assert f"Sanne, wacht sinds {since}: http://127.0.0.1:8080/engagements/{world.engagement_id}" in body
    assert message["Auto-Submitted"] == "auto-generated"
    clock.set(at_local(local_now(clock).date() + timedelta(days=1), 7, 30))  # the next morning: no one new wrote
    await fire()
    assert await count(sessions, MailOutbox, MailOutbox.kind == "digest") == 1
    await take(world, sessions, hub, clock, build_mail(text="Nog een vraag"))
    clock.advance(days=1)
    await fire()
    assert await count(sessions, MailOutbox, MailOutbox.kind == "digest") == 2


# --- the reply box -----------------------------------------------------------------------------


def chosen(page: str) -> list[str]:
    """The selected option(s) of the reply box's channel choice."""
    box = re.search(r'<select name="channel">(.*?)</select>', page, re.DOTALL)
    assert box, "no channel choice in the reply box"
    return re.findall(r'<option value="(\w+)"[^>]*selected', box.group(1))


async def test_reply_box_defaults_to_the_channel_last_used(sessions, clock, hub, db_url, smtp_relay, record_exchange) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, notify_coach="off", **relay_settings(smtp_relay))
    eid = world.engagement_id
    async with app_client(world.settings, clock) as client:
        await login(client, world.coach_email)
        assert chosen(await (await client.get(f"/engagements/{eid}")).text()) == ["chat"]
        await take(world, sessions, hub, clock, build_mail(subject="Per mail", text="Liever per mail"))
        page = await (await client.get(f"/engagements/{eid}")).text()
        assert chosen(page) == ["mail"] and '<option value="chat"' in page
        token = await csrf_of(client, f"/engagements/{eid}")
        answer = await client.post(f"/engagements/{eid}/messages", allow_redirects=False,
                                   data={"_csrf": token, "client_id": "reply-by-mail-1", "text": "Mijn antwoord",
                                         "channel": "mail"})
        assert answer.status == 303
        await record_exchange(eid, "En nu via de chat", direction="in", channel="chat")
        assert chosen(await (await client.get(f"/engagements/{eid}")).text()) == ["chat"]
    await deliver_all(world, sessions, clock, hub)
    [mail] = smtp_relay.messages
    message = headers_of(mail.raw)
    assert mail.rcpt_tos == (COACHEE,) and message["Subject"] == "Re: Per mail"
    assert message["Reply-To"].addresses[0].addr_spec == reply_to(eid)
    # The coachee answers that mail: it lands in the same engagement by its token.
    back = await take(world, sessions, hub, clock, build_mail(to=str(message["Reply-To"]), text="Dank!",
                                                              headers={"In-Reply-To": message["Message-ID"]}))
    assert back.kind == "exchange" and back.recorded.exchange.engagement_id == eid



async def test_the_same_mail_taken_in_concurrently_is_stored_once(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    """Two takers (IMAP and LMTP, or two processes) with the same mail at the same time."""
    world = await make_world(sessions, clock, db_url, notify_coach="off")
    raws = [build_mail(text=f"Gelijktijdig {n}") for n in range(3)]
    outcomes = await asyncio.gather(*(take(world, sessions, hub, clock, raw) for raw in raws for _ in range(4)))
    assert sorted(o.kind for o in outcomes) == ["duplicate"] * 9 + ["exchange"] * 3
    assert await count(sessions, Exchange, Exchange.channel == "mail") == 3
    assert await count(sessions, InboundMail) == 3
