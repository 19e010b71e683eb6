"""The coach's webhooks page on both databases: CSRF, clear errors, the secret shown once,
test event, turn off and on, a failed delivery retried, delete; another coach sees and
touches nothing of it."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from ecoach.keys import SESSIONS
from ecoach.logbook.webhook_models import WebhookDelivery, WebhookEndpoint
from tests.support import app_client, csrf_of, login, seed, settings_for
from tests.webhook_support import Receiver, receiver, run_tasks  # noqa: F401 - the fixture

SECRET = re.compile(r'value="(whsec_[^"]+)"')


async def test_managing_webhooks_on_the_page(db_url, clock, receiver: Receiver) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    await seed(db_url, clock.now(), email="b@example.org", language="en")
    settings = settings_for(db_url, webhooks={"allow_private_addresses": True, "max_attempts": 1})
    async with app_client(settings, clock) as client, app_client(settings, clock) as other:
        app = client.server.app
        await login(client, "a@example.org")
        await login(other, "b@example.org")
        csrf = await csrf_of(client, "/webhooks")
        form = {"url": receiver.url, "description": "CRM", "events": ["exchange.created:in"]}
        refused = await client.post("/webhooks", data=form, allow_redirects=False)
        assert refused.status == 403  # no CSRF token
        bad = await client.post("/webhooks", data={**form, "_csrf": csrf, "url": "ftp://x"})
        assert bad.status == 400 and "starting with https://" in await bad.text()
        none = await client.post("/webhooks", data={"_csrf": csrf, "url": receiver.url})
        assert none.status == 400 and "at least one kind of event" in await none.text()

        made = await client.post("/webhooks", data={**form, "_csrf": csrf})
        page = await made.text()
        [secret] = SECRET.findall(page)
        async with app[SESSIONS]() as session:
            endpoint = (await session.execute(select(WebhookEndpoint))).scalar_one()
        assert (endpoint.events, endpoint.include_text, endpoint.description) == ("exchange.created:in", False, "CRM")
        again = await (await client.get("/webhooks")).text()
        assert secret not in again and "whsec_" not in again and receiver.url in again
        assert "Webhooks for your integrations" in await (await client.get("/account")).text()

        # Another coach: nothing to see, nothing to touch.
        assert receiver.url not in await (await other.get("/webhooks")).text()
        other_csrf = await csrf_of(other, "/webhooks")
        for action in ("test", "off", "delete", "secret"):
            response = await other.post(f"/webhooks/{endpoint.id}/{action}", data={"_csrf": other_csrf},
                                        allow_redirects=False)
            assert response.status == 404, action

        # A test event, answered 500: failed after its one attempt, then retried from the page.
        receiver.answers = [500]
        sent = await client.post(f"/webhooks/{endpoint.id}/test", data={"_csrf": csrf}, allow_redirects=False)
        assert sent.status == 303
        await run_tasks(app)
        assert receiver.received[-1].json["type"] == "webhook.test"
        page = await (await client.get("/webhooks")).text()
        [retry] = re.findall(r'action="(/webhooks/deliveries/\d+/retry)"', page)
        assert "HTTP 500 Internal Server Error" in page
        assert (await client.post(retry, data={"_csrf": csrf}, allow_redirects=False)).status == 303
        await run_tasks(app)
        assert len(receiver.received) == 2 and ">delivered<" in await (await client.get("/webhooks")).text()

        # Off: nothing is sent, and a test is refused with a reason; on again.
        await client.post(f"/webhooks/{endpoint.id}/off", data={"_csrf": csrf})
        off = await client.post(f"/webhooks/{endpoint.id}/test", data={"_csrf": csrf})
        assert off.status == 409 and "Turn this webhook on first" in await off.text()
        await client.post(f"/webhooks/{endpoint.id}/on", data={"_csrf": csrf})

        # A new secret replaces the old one, shown once.
        rotated = await (await client.post(f"/webhooks/{endpoint.id}/secret", data={"_csrf": csrf})).text()
        [new_secret] = SECRET.findall(rotated)
        assert new_secret != secret

        # Change, then delete: the endpoint and its deliveries are gone.
        changed = await client.post(f"/webhooks/{endpoint.id}", data={**form, "_csrf": csrf, "include_text": "on",
                                                                     "events": ["commitment.breached"]},
                                    allow_redirects=False)
        assert changed.status == 303
        gone = await client.post(f"/webhooks/{endpoint.id}/delete", data={"_csrf": csrf}, allow_redirects=False)
        assert gone.status == 303
        async with app[SESSIONS]() as session:
            assert await session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0
            assert await session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
        assert a["coach_id"]


async def test_the_page_speaks_dutch_and_refuses_private_addresses(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    await seed(db_url, clock.now(), email="a@example.org", language="nl")
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, "a@example.org")
        csrf = await csrf_of(client, "/webhooks")
        response = await client.post("/webhooks", data={"_csrf": csrf, "url": "http://192.168.1.10/hook",
                                                        "events": ["booking.created"]})
        page = await response.text()
        assert response.status == 400 and "privé- of lokaal netwerk" in page
        assert "Een webhook toevoegen" in page
