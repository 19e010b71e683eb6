"""Nudges through the web, in-process on both databases: the coach plans, edits, skips
and sends now from the engagement page; the coachee records an action step on the chat
page and pauses nudges from the link in a nudge; mail nudges reach a real SMTP relay.

Every moment is relative to the ``clock``; the tests that depend on it run at START and at
Sunday 23:59, the DST hour and New Year's night (``awkward_clock``). A nudge goes out only
by day in the coachee's zone; the pause-link test moves to the day first and is then the
same at any moment."""

from __future__ import annotations

import html
import re
from datetime import timedelta, timezone
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from multidict import MultiDict
from sqlalchemy import select

from ecoach.channels.mail.outbox import OutboxDispatcher
from ecoach.core.nudge_rules import read_pause_token
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.models import Exchange
from ecoach.logbook.nudge_models import Nudge, NudgePlan
from ecoach.settings import MailSettings
from ecoach.keys import TASK_RUNNER
from tests.moments import at_local, next_weekday
from tests.nudge_support import (
    AMS, SECRET, awake, check, drain, go, nudge_runner, nudge_settings, same_time, save_plan, today,
)
from tests.smtp_relay import smtp_relay  # noqa: F401 - the fixture
from tests.support import app_client, csrf_of, login, seed, settings_for
from tests.conftest import fresh_keyring

UTC = timezone.utc
UPCOMING = re.compile(r'data-nudge="(\d+)"')
PAUSE_LINK = re.compile(r"http://[^/\s]+/n/(\S+)")


def plan_form(csrf: str, **changes: str) -> MultiDict[str]:
    fields = {"_csrf": csrf, "enabled": "1", "cadence": "weekly", "time_of_day": "09:00", "every_days": "7",
              "channel": "chat", "goal": "meer rust in mijn week", "silence_days": "14", "template_nl": "",
              "template_en": "", **changes}
    return MultiDict([*fields.items(), ("weekdays", "0"), ("weekdays", "3")])


async def rows(db_url: str, model, **where):  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            stmt = select(model).filter_by(**where).order_by(model.id)
            return list((await session.execute(stmt)).scalars())
    finally:
        await engine.dispose()


@pytest.mark.awkward_clock
async def test_coach_plans_edits_skips_and_sends_now(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    data = await seed(db_url, clock.now(), email="marieke@example.org")
    other = await seed(db_url, clock.now(), email="joost@example.org", coachee="Ahmed")
    eid = data["engagement_id"]
    page = f"/engagements/{eid}"
    async with app_client(settings_for(db_url, public_url="http://coach.test"), clock) as client:
        await login(client, data["email"])
        text = await (await client.get(page)).text()
        assert 'id="nudges"' in text and "Geen vaste aanmoedigingen." in text
        csrf = await csrf_of(client, f"{page}/nudges/plan")

        bad = await client.post(f"{page}/nudges/plan", data=plan_form(csrf, template_nl="Hoi {{ naam }}"),
                                allow_redirects=False)
        assert bad.status == 400
        body = await bad.text()
        assert "onbekende variabelen: naam" in body and "Hoi {{ naam }}</textarea>" in body

        saved = await client.post(f"{page}/nudges/plan", data=plan_form(csrf), allow_redirects=False)
        assert (saved.status, saved.headers["Location"]) == (303, f"{page}#nudges")
        text = await (await client.get(page)).text()
        assert "Het aanmoedigingsplan is opgeslagen." in text
        assert "Elke maandag, donderdag om 09:00 (tijd van je coachee), via chat." in text
        first, second, third = map(int, UPCOMING.findall(text))
        assert "Een nieuwe week, een nieuwe kans om te werken aan meer rust in mijn week." in text

        edit = await (await client.get(f"{page}/nudges/{first}/edit")).text()
        assert "Hoi Sanne," in edit
        edited = await client.post(f"{page}/nudges/{first}/edit",
                                   data={"_csrf": csrf, "text": "Hoi {{ coachee }}, vandaag is jouw dag!"},
                                   allow_redirects=False)
        assert edited.status == 303
        wrong = await client.post(f"{page}/nudges/{first}/edit", data={"_csrf": csrf, "text": "Hoi {{ naam }}"})
        assert wrong.status == 400 and "naam" in await wrong.text()
        text = await (await client.get(page)).text()
        assert "Hoi Sanne, vandaag is jouw dag!" in text and "aangepast" in text

        skipped = await client.post(f"{page}/nudges/{second}/skip", data={"_csrf": csrf}, allow_redirects=False)
        assert skipped.status == 303
        text = await (await client.get(page)).text()
        upcoming = list(map(int, UPCOMING.findall(text)))
        assert second not in upcoming and len(upcoming) == 3 and upcoming[:2] == [first, third]

        if awake(clock.now()) != clock.now():  # night for the coachee: not now, and the coach is told why
            night = await client.post(f"{page}/nudges/{first}/send", data={"_csrf": csrf})
            wall = clock.now().astimezone(AMS).strftime("%H:%M")
            told = html.unescape(await night.text())
            assert f"Het is {wall} bij je coachee: 's nachts gaan er geen aanmoedigingen uit." in told
            assert await rows(db_url, Exchange, engagement_id=eid, author="system") == []
            go(clock, awake(clock.now()))
        sent = await client.post(f"{page}/nudges/{first}/send", data={"_csrf": csrf}, allow_redirects=False)
        assert sent.status == 303
        text = await (await client.get(page)).text()
        assert "De aanmoediging is verstuurd." in text
        assert first not in map(int, UPCOMING.findall(text))
        [exchange] = await rows(db_url, Exchange, engagement_id=eid, author="system")
        assert exchange.body_text.startswith("Hoi Sanne, vandaag is jouw dag!")
        assert f'id="x{exchange.id}"' in text  # in the timeline

        again = await client.post(f"{page}/nudges/{third}/send", data={"_csrf": csrf}, allow_redirects=False)
        assert again.status == 303
        assert "hoogstens één per dag" in await (await client.get(page)).text()

        # The runner sends the next one when it is due.
        [nxt] = await rows(db_url, Nudge, id=third)
        go(clock, nxt.due_at)
        await client.server.app[TASK_RUNNER].run_once()
        assert len(await rows(db_url, Exchange, engagement_id=eid, author="system")) == 2

    async with app_client(settings_for(db_url), clock) as intruder:
        await login(intruder, other["email"])
        token = await csrf_of(intruder, "/")
        for path in (f"{page}/nudges/{third}/skip", f"{page}/nudges/{third}/send", f"{page}/nudges/plan"):
            assert (await intruder.post(path, data={"_csrf": token}, allow_redirects=False)).status == 404
        assert (await intruder.get(f"{page}/nudges/plan")).status == 404


async def test_pause_link_in_the_engagement_language(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    data = await seed(db_url, clock.now(), email="marieke@example.org")
    eid = data["engagement_id"]
    go(clock, awake(clock.now()))  # the coach sends one now: by day
    settings = settings_for(db_url, public_url="http://coach.test")
    async with app_client(settings, clock) as client:
        await login(client, data["email"])
        csrf = await csrf_of(client, f"/engagements/{eid}/nudges/plan")
        await client.post(f"/engagements/{eid}/nudges/plan", data=plan_form(csrf), allow_redirects=False)
        first = int(UPCOMING.findall(await (await client.get(f"/engagements/{eid}")).text())[0])
        await client.post(f"/engagements/{eid}/nudges/{first}/send", data={"_csrf": csrf})
        [nudge] = await rows(db_url, Exchange, engagement_id=eid, author="system")
        token = PAUSE_LINK.search(nudge.body_text).group(1)  # type: ignore[union-attr]
        assert read_pause_token(SECRET, token, clock.now(), 180) == eid

    async with app_client(settings, clock) as coachee:
        headers = {"Accept-Language": "en"}
        page = await coachee.get(f"/n/{token}", headers=headers)
        assert page.status == 200 and page.headers["Content-Language"] == "nl"
        assert "Herinneringen pauzeren" in await page.text()
        csrf = await csrf_of(coachee, f"/n/{token}")
        paused = await coachee.post(f"/n/{token}", data={"_csrf": csrf, "action": "pause"}, allow_redirects=False)
        assert (paused.status, paused.headers["Location"]) == (303, f"/n/{token}?done=pause")
        text = await (await coachee.get(f"/n/{token}?done=pause")).text()
        assert "staan op pauze" in text and "Herinneringen weer aanzetten" in text
        [plan] = await rows(db_url, NudgePlan, engagement_id=eid)
        assert plan.paused_at == clock.now()
        assert await rows(db_url, Nudge, engagement_id=eid, status="planned") == []

        resumed = await coachee.post(f"/n/{token}", data={"_csrf": csrf, "action": "resume"}, allow_redirects=False)
        assert resumed.status == 303
        assert "staan weer aan" in await (await coachee.get(f"/n/{token}?done=resume")).text()
        assert len(await rows(db_url, Nudge, engagement_id=eid, status="planned")) == 3

        engagement_id, stamp, tag = token.split(".")
        for forged in (f"{int(engagement_id) + 1}.{stamp}.{tag}", f"{engagement_id}.{stamp}.{tag[::-1]}", "x"):
            refused = await coachee.get(f"/n/{forged}", headers=headers)
            assert refused.status == 404 and "This link is not valid" in await refused.text()
        refused = await coachee.post(f"/n/{engagement_id}.{stamp}.{tag[::-1]}",
                                     data={"_csrf": csrf, "action": "pause"}, headers=headers)
        assert refused.status == 404

        clock.advance(days=181)
        expired = await coachee.get(f"/n/{token}", headers=headers)
        assert expired.status == 410 and "Deze link is verlopen" in await expired.text()


@pytest.mark.awkward_clock
async def test_coachee_records_an_action_step_from_the_chat_page(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    data = await seed(db_url, clock.now(), email="marieke@example.org")
    eid, chat = data["engagement_id"], f"/c/{data['chat_token']}"
    async with app_client(settings_for(db_url), clock) as coachee:
        text = await (await coachee.get(chat)).text()
        assert 'id="action-steps"' in text and "Wat ga je doen?" in text and "/n/" in text
        csrf = await csrf_of(coachee, chat)
        yesterday, due_on = today(clock) - timedelta(days=1), today(clock) + timedelta(days=3)
        late = await coachee.post(f"{chat}/action-steps",
                                  data={"_csrf": csrf, "text": "Te laat", "due_on": yesterday.isoformat()},
                                  allow_redirects=False)
        assert late.status == 303
        assert "Kies vandaag of een latere datum." in await (await coachee.get(chat)).text()
        added = await coachee.post(f"{chat}/action-steps",
                                   data={"_csrf": csrf, "text": "Elke dag tien minuten lezen",
                                         "due_on": due_on.isoformat()},
                                   allow_redirects=False)
        assert (added.status, added.headers["Location"]) == (303, f"{chat}#action-steps")
        text = await (await coachee.get(chat)).text()
        assert "De actiestap is vastgelegd." in text and "Elke dag tien minuten lezen" in text
        [follow_up] = await rows(db_url, Nudge, engagement_id=eid, kind="action_step")
        assert follow_up.due_at == at_local(due_on, 9)  # 09:00 in Amsterdam

        go(clock, follow_up.due_at)
        await coachee.server.app[TASK_RUNNER].run_once()
        text = await (await coachee.get(chat)).text()
        assert "Elke dag tien minuten lezen" in text and "Hoe ging het?" in text

    async with app_client(settings_for(db_url), clock) as coach:
        await login(coach, data["email"])
        text = await (await coach.get(f"/engagements/{eid}")).text()
        assert "Elke dag tien minuten lezen" in text and "door je coachee" in text


@pytest.mark.awkward_clock
async def test_mail_nudges_reach_the_relay_with_the_pause_link(  # type: ignore[no-untyped-def]
    db_url, sessions, clock, hub, make_coach, make_engagement, smtp_relay,
) -> None:
    mail = MailSettings(enabled=True, domain="coaching.test", smtp_host=smtp_relay.host, smtp_port=smtp_relay.port,
                        smtp_timeout=5)
    settings = nudge_settings(db_url, mail=mail)
    start = clock.now()
    coach = await make_coach(name="Marieke Bos", email="marieke@coaching.test", language="nl")
    sanne = await make_engagement(coach, coachee_name="Sanne", coachee_email="sanne@example.test", language="nl")
    tom = await make_engagement(coach, coachee_name="Tom", coachee_email="tom@example.test", language="en",
                                time_zone="Europe/London")
    for created in (sanne, tom):
        await save_plan(sessions, settings, created, clock, weekdays=("0",), channel="mail")
    runner = nudge_runner(sessions, settings, clock, hub)
    dispatcher = OutboxDispatcher(sessions, mail, clock)
    monday = next_weekday(clock, 0, 10)
    go(clock, monday)  # Monday: 10:00 Amsterdam, 09:00 London
    await drain(runner)
    await dispatcher.run_once()

    received = {m.rcpt_tos[0]: message_from_bytes(m.raw, policy=default_policy) for m in smtp_relay.messages}
    assert set(received) == {"sanne@example.test", "tom@example.test"}
    expected = {"sanne@example.test": (sanne, "Een steuntje in de rug van Marieke Bos", "Hoi Sanne,", "Zet ze hier op pauze"),
                "tom@example.test": (tom, "A word of encouragement from Marieke Bos", "Hi Tom,", "Pause them here")}
    for address, (created, subject, greeting, pause_line) in expected.items():
        message = received[address]
        assert message["Subject"] == subject and message["Auto-Submitted"] == "auto-generated"
        assert message["From"].addresses[0].display_name == "Marieke Bos"
        assert message["Reply-To"].addresses[0].addr_spec.startswith("coach+")
        body = message.get_body(("plain",)).get_content()
        assert body.startswith(greeting) and pause_line in body
        token = PAUSE_LINK.search(body).group(1)  # type: ignore[union-attr]
        assert str(message["List-Unsubscribe"]).strip() == f"<http://coach.test/n/{token}>"
        assert read_pause_token(SECRET, token, clock.now(), 180) == created.engagement.id
        [exchange] = await rows(db_url, Exchange, engagement_id=created.engagement.id, author="system")
        assert (exchange.channel, exchange.delivery_state, exchange.meta["subject"]) == ("mail", "sent", subject)

    # Two weeks of ignored nudges later: a check-in by mail, and the coach hears of it.
    go(clock, same_time(monday, 7))
    await drain(runner)
    await dispatcher.run_once()
    assert len(smtp_relay.messages) == 4
    smtp_relay.clear()
    silent = awake(start + timedelta(days=15))
    if silent.astimezone(AMS).weekday() == 0:
        silent = same_time(silent, 1)  # not on a Monday, where the plan's nudge took the day
    go(clock, silent)
    await check(runner, clock)
    while (await dispatcher.run_once()).claimed:  # one mail per recipient per round, in order
        pass
    received = {m.rcpt_tos[0]: message_from_bytes(m.raw, policy=default_policy) for m in smtp_relay.messages}
    assert received["sanne@example.test"]["Subject"] == "Hoe gaat het met je?"
    assert received["tom@example.test"]["Subject"] == "How are you doing?"
    alerts = [m for m in smtp_relay.messages if m.rcpt_tos == ("marieke@coaching.test",)]
    subjects = sorted(str(message_from_bytes(m.raw, policy=default_policy)["Subject"]) for m in alerts)
    days = (clock.now() - start).days
    assert subjects == [f"{name} heeft al {days} dagen niets laten horen" for name in ("Sanne", "Tom")]
    assert days >= 15


@pytest.mark.awkward_clock
async def test_silent_coachee_gets_a_check_in_and_the_inbox_shows_a_badge(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    data = await seed(db_url, clock.now(), email="marieke@example.org")
    eid = data["engagement_id"]
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, data["email"])
        runner = client.server.app[TASK_RUNNER]
        start = clock.now()
        go(clock, awake(start + timedelta(days=15)))  # by day: at night the check-in waits for the morning
        await runner.fire_recurring("nudge.reengagement_check", clock.now())
        while await runner.run_once():
            pass
        inbox = await (await client.get("/")).text()
        assert 'class="badge quiet"' in inbox and "Het is alweer even geleden" in inbox
        page = await (await client.get(f"/engagements/{eid}")).text()
        days = (clock.now() - start).days
        assert days >= 15 and f"Sanne heeft al {days} dagen niets laten horen." in page  # the note in the logbook
        assert 'class="badge quiet"' not in await (await client.get("/")).text()  # seen
        assert "Het is alweer even geleden" in await (await client.get(f"/c/{data['chat_token']}")).text()
