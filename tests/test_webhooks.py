"""Outgoing webhooks on both databases, to a real aiohttp receiver on loopback: fed by the
event path (a chat message, a status change, a breach found by the task runner), signed,
retried after errors and timeouts, parked, turned off after long failure; never sent for
a rolled-back transaction, never to another coach; private addresses refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from ecoach.actions.engagements import do_change_status
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.unit import unit_of_work
from ecoach.actions.webhook_deliveries import Prepared
from ecoach.channels.webhooks import send
from ecoach.core import webhooks as core
from ecoach.keys import CLOCK, SESSIONS
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.models import Engagement
from ecoach.logbook.task_models import Task
from ecoach.logbook.webhook_models import WebhookDelivery, WebhookEndpoint
from ecoach.settings import WebhookSettings
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.support import app_client, login, seed, settings_for
from tests.webhook_support import HANG, Receiver, add_endpoint, receiver, run_tasks  # noqa: F401 - fixture

HOOKS = {"allow_private_addresses": True, "timeout_seconds": 1.0}


async def chat(client, token: str, text_: str, client_id: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    ws = await client.ws_connect(f"/c/{token}/ws")
    await ws.send_json({"type": "message", "client_id": client_id, "text": text_})
    while (frame := await ws.receive_json(timeout=10))["type"] != "ack":
        pass
    await ws.close()
    return frame["exchange"]


async def deliveries(app) -> list[WebhookDelivery]:  # type: ignore[no-untyped-def]
    async with app[SESSIONS]() as session:
        return list((await session.execute(select(WebhookDelivery).order_by(WebhookDelivery.id))).scalars())


async def test_a_chat_message_reaches_the_endpoint_signed(db_url, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, webhooks=HOOKS), clock) as client:
        app = client.server.app
        endpoint_id, secret = await add_endpoint(app, a["coach_id"], receiver.url)
        exchange = await chat(client, a["chat_token"], "Hallo coach", "msg-00001")
        assert receiver.received == []  # saved first, sent by the task runner
        assert await run_tasks(app) == 1
        [got] = receiver.received
        assert core.verify(secret, got.headers[core.SIGNATURE_HEADER], got.body, clock.now().timestamp())
        assert not core.verify("whsec_other", got.headers[core.SIGNATURE_HEADER], got.body, clock.now().timestamp())
        assert not core.verify(secret, got.headers[core.SIGNATURE_HEADER], got.body + b" ", clock.now().timestamp())
        assert got.headers["Ecoach-Event"] == "exchange.created" and got.headers["Content-Type"] == "application/json"
        body = got.json
        assert body["type"] == "exchange.created" and body["id"] == got.delivery
        assert body["data"]["engagement_id"] == a["engagement_id"]
        assert body["data"]["exchange"] == {"id": exchange["id"], "channel": "chat", "direction": "in",
                                            "author": "coachee", "created_at": body["occurred_at"],
                                            "delivery_state": "stored"}
        assert "Hallo" not in got.body.decode() and "Sanne" not in got.body.decode()
        [done] = await deliveries(app)
        assert (done.status, done.attempts, done.last_result) == ("delivered", 1, "HTTP 200 OK")

        # With "include message text" the text goes along; the status change is an event too.
        async with unit_of_work(app[SESSIONS]) as session:
            await session.execute(update(WebhookEndpoint).values(include_text=True))
            engagement = await session.get(Engagement, a["engagement_id"])
            await do_change_status(session, engagement, "pause", now=clock.now())
        await run_tasks(app)
        status = receiver.received[-1].json
        assert status["type"] == "engagement.status_changed"
        assert status["data"] == {"engagement_id": a["engagement_id"], "status": "paused", "current_status": "paused"}
        async with unit_of_work(app[SESSIONS]) as session:
            await do_change_status(session, await session.get(Engagement, a["engagement_id"]), "resume",
                                   now=clock.now())
        await chat(client, a["chat_token"], "Met tekst", "msg-00002")
        await run_tasks(app)
        assert receiver.received[-1].json["data"]["exchange"]["text"] == "Met tekst"
        assert len({r.delivery for r in receiver.received}) == len(receiver.received) == 4


async def test_retried_after_errors_and_timeouts_until_it_succeeds(db_url, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, webhooks=HOOKS), clock) as client:
        app = client.server.app
        await add_endpoint(app, a["coach_id"], receiver.url)
        receiver.answers = [500, HANG, 503]
        await chat(client, a["chat_token"], "Hallo", "msg-00001")
        await run_tasks(app)
        [delivery] = await deliveries(app)
        assert (delivery.status, delivery.attempts, delivery.last_result) == \
            ("pending", 1, "HTTP 500 Internal Server Error")
        async with app[SESSIONS]() as session:
            [task] = (await session.execute(select(Task).where(Task.status == "pending", Task.name == "webhooks.deliver"))).scalars().all()
        # 30 s, plus up to 20 % jitter
        assert timedelta(seconds=30) <= task.due_at - clock.now() <= timedelta(seconds=36)
        assert await run_tasks(app) == 0  # not due yet
        for minutes, expected in ((1, "timeout after 1 s"), (2, "HTTP 503 Service Unavailable"), (4, "HTTP 200 OK")):
            clock.advance(minutes=minutes)
            assert await run_tasks(app) == 1
            [delivery] = await deliveries(app)
            assert delivery.last_result == expected
        assert (delivery.status, delivery.attempts) == ("delivered", 4)
        assert len(receiver.received) == 4 and len({r.delivery for r in receiver.received}) == 1
        async with app[SESSIONS]() as session:
            endpoint = (await session.execute(select(WebhookEndpoint))).scalar_one()
        assert endpoint.failing_since is None and endpoint.last_success_at == clock.now()


async def test_parked_after_the_last_attempt_and_sent_again_on_retry(db_url, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    settings = settings_for(db_url, webhooks={**HOOKS, "max_attempts": 2})
    async with app_client(settings, clock) as client:
        app = client.server.app
        await add_endpoint(app, a["coach_id"], receiver.url, events=(core.EXCHANGE_IN,))
        receiver.answers = [500, 500]
        await chat(client, a["chat_token"], "Hallo", "msg-00001")
        await run_tasks(app)
        clock.advance(minutes=1)
        await run_tasks(app)
        [delivery] = await deliveries(app)
        assert (delivery.status, delivery.attempts) == ("failed", 2)
        clock.advance(days=1)
        await run_tasks(app)  # (the commitment's check and breach)
        assert len(receiver.received) == 2  # parked: nothing more is tried
        from ecoach.actions.webhooks import do_retry_delivery

        async with unit_of_work(app[SESSIONS]) as session:
            await do_retry_delivery(session, a["coach_id"], delivery.id, now=clock.now())
        await run_tasks(app)
        [delivery] = await deliveries(app)
        assert (delivery.status, delivery.attempts) == ("delivered", 1)
        assert len(receiver.received) == 3 and len({r.delivery for r in receiver.received}) == 1


async def test_an_endpoint_failing_for_long_is_turned_off_and_the_coach_told(  # type: ignore[no-untyped-def]
    db_url, clock, receiver: Receiver, smtp_relay: SmtpRelay
) -> None:
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    settings = settings_for(db_url, webhooks={**HOOKS, "disable_after_hours": 2},
                            mail={"enabled": True, "domain": "coaching.test", "smtp_host": smtp_relay.host,
                                  "smtp_port": smtp_relay.port})
    async with app_client(settings, clock) as client:
        app = client.server.app
        endpoint_id, _ = await add_endpoint(app, a["coach_id"], receiver.url)
        receiver.answers = [500] * 20
        await chat(client, a["chat_token"], "Eerste", "msg-00001")
        await run_tasks(app)  # failing since now
        clock.advance(hours=1)
        await chat(client, a["chat_token"], "Tweede", "msg-00002")
        await run_tasks(app)
        clock.advance(hours=1, minutes=1)
        await run_tasks(app)  # both retried, both failing two hours on: turned off
        async with app[SESSIONS]() as session:
            endpoint = await session.get(WebhookEndpoint, endpoint_id)
            pending = await session.scalar(select(func.count()).select_from(Task).where(
                Task.status == "pending", Task.name == "webhooks.deliver"))
        assert (endpoint.enabled, endpoint.disabled_reason) == (False, "failing")
        assert pending == 0 and {d.status for d in await deliveries(app)} == {"failed"}
        from tests.dovecot import wait_until

        await wait_until(lambda: [m for m in smtp_relay.messages if b"turned off" in m.raw])
        [notice] = [m for m in smtp_relay.messages if b"turned off" in m.raw]
        assert notice.rcpt_tos == ("a@example.org",) and b"/webhooks" in notice.raw
        await login(client, "a@example.org")
        page = await (await client.get("/webhooks")).text()
        assert "turned off after failing" in page and "kept failing" in page
        # New events are not queued for an endpoint that is off.
        await chat(client, a["chat_token"], "Derde", "msg-00003")
        assert len(await deliveries(app)) == 2


async def test_a_rolled_back_transaction_is_never_delivered(db_url, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, webhooks=HOOKS), clock) as client:
        app = client.server.app
        await add_endpoint(app, a["coach_id"], receiver.url)
        item = NewExchange(engagement_id=a["engagement_id"], channel="chat", direction="in", author="coachee",
                           author_name="Sanne", text="nooit", external_id="chat:rolled-back")
        with pytest.raises(RuntimeError):
            async with unit_of_work(app[SESSIONS]) as session:
                await record_exchanges(session, [item], clock.now())
                raise RuntimeError("the action fails after recording")
        assert await deliveries(app) == []
        assert await run_tasks(app) == 0 and receiver.received == []


async def test_a_coach_never_gets_another_coachs_events(db_url, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    b = await seed(db_url, clock.now(), email="b@example.org", coachee="Bram")
    async with app_client(settings_for(db_url, webhooks=HOOKS), clock) as client:
        app = client.server.app
        await add_endpoint(app, a["coach_id"], receiver.url + "/a")
        await add_endpoint(app, b["coach_id"], receiver.url + "/b")
        await chat(client, a["chat_token"], "Voor A", "msg-00001")
        await chat(client, b["chat_token"], "Voor B", "msg-00002")
        await run_tasks(app)
        got = {r.path: r.json["data"]["engagement_id"] for r in receiver.received}
        assert got == {"/hook/a": a["engagement_id"], "/hook/b": b["engagement_id"]}
        # The engagement changes hands before its delivery goes out: A gets nothing of it.
        await chat(client, a["chat_token"], "Na de overdracht", "msg-00003")
        async with unit_of_work(app[SESSIONS]) as session:
            await session.execute(update(Engagement).where(Engagement.id == a["engagement_id"])
                                  .values(coach_id=b["coach_id"]))
        await run_tasks(app)
        assert len(receiver.received) == 2
        assert (await deliveries(app))[-1].status == "skipped"


@pytest.mark.awkward_clock
async def test_a_breach_found_by_the_task_runner_is_delivered(db_url, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, webhooks=HOOKS), clock) as client:
        app = client.server.app
        await add_endpoint(app, a["coach_id"], receiver.url, events=(core.BREACH,))
        await chat(client, a["chat_token"], "Een vraag", "msg-00001")  # answer due in 4 working hours
        await run_tasks(app)
        assert receiver.received == []  # not subscribed to exchanges
        async with app[SESSIONS]() as session:  # 4 working hours: Monday 13:00 if written on Sunday night
            due = (await session.execute(select(Commitment.due_at))).scalar_one()
        assert due > clock.now()
        clock.set(due + timedelta(hours=1))
        await run_tasks(app)
        [got] = receiver.received
        body = got.json
        assert body["type"] == "commitment.breached"
        commitment = body["data"]["commitment"]
        assert commitment["channel"] == "chat" and commitment["breached_at"] == body["occurred_at"]


# --- where an endpoint may point --------------------------------------------------------------


@pytest.mark.parametrize("url, code", [
    ("ftp://example.org/x", "url_invalid"), ("https://", "url_invalid"), ("example.org/hook", "url_invalid"),
    ("https://user:pw@example.org/hook", "url_credentials"), ("http://10.1.2.3/hook", "address_private"),
    ("http://127.0.0.1:8080/hook", "address_private"), ("http://[::1]/hook", "address_private"),
    ("http://[::ffff:192.168.1.1]/hook", "address_private"), ("http://169.254.169.254/latest", "address_private"),
    ("http://0.0.0.0/hook", "address_private"), ("https://example.org/" + "x" * 2000, "url_too_long"),
])
def test_urls_refused(url: str, code: str) -> None:
    with pytest.raises(core.UrlRefused) as refused:
        core.check_url(url, allow_private=False)
    assert refused.value.code == code


def test_urls_accepted() -> None:
    assert core.check_url(" https://hooks.example.org/ecoach?x=1 ", allow_private=False) == \
        "https://hooks.example.org/ecoach?x=1"
    assert core.check_url("http://127.0.0.1:9/hook", allow_private=True) == "http://127.0.0.1:9/hook"
    assert not core.address_allowed("0.0.0.0", allow_private=True)  # never: it reaches this machine
    assert not core.address_allowed("224.0.0.1", allow_private=True)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "[::ffff:127.0.0.1]"])
async def test_a_private_address_is_refused_when_sending(host: str, receiver: Receiver) -> None:
    """The name resolves to loopback at send time: refused before connecting."""
    prepared = Prepared(1, 1, 1, f"http://{host}:{receiver.port}/hook", b"{}", {})
    result = await send(prepared, WebhookSettings(allow_private_addresses=False, timeout_seconds=2))
    assert not result.ok and "private or local address" in result.summary
    assert receiver.received == []
    allowed = await send(prepared, WebhookSettings(allow_private_addresses=True, timeout_seconds=2))
    assert allowed.ok and len(receiver.received) == 1


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    receiver.answers = [302]
    result = await send(Prepared(1, 1, 1, receiver.url, b"{}", {}), WebhookSettings(allow_private_addresses=True))
    assert not result.ok and "redirects are not followed" in result.summary


async def test_the_secret_is_stored_encrypted(db_url, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url, webhooks=HOOKS), clock) as client:
        app = client.server.app
        _, secret = await add_endpoint(app, a["coach_id"], receiver.url)
        async with app[SESSIONS]() as session:
            stored = (await session.execute(text("SELECT secret FROM webhook_endpoint"))).scalar_one()
        assert secret.startswith("whsec_") and secret not in stored and clock.now() == app[CLOCK].now()
