"""Crisis signals wired end to end on a real database (both): the mail pipeline's step,
the chat's write path, the coach's inbox and engagement page, marking a signal handled or
a false alarm, another coach's isolation, the crisis resources settings page, bad input."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import default as default_policy
from typing import Any

from sqlalchemy import select

from ecoach.actions.crisis import do_resolve_crisis
from ecoach.actions.crisis_chat import with_crisis_check
from ecoach.actions.quarantine import do_assign
from ecoach.actions.errors import NotFound
from ecoach.actions.exchange_writer import ExchangeWriter
from ecoach.actions.exchanges import NewExchange
from ecoach.actions.unit import unit_of_work
from ecoach.core import notices, topics
from ecoach.logbook.audit_models import AuditEntry
from ecoach.logbook.crisis_models import CrisisFlag
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Coach, Exchange
from tests.mail_support import build_mail, make_world, reply_to, take
from tests.support import app_client, csrf_of, login

CRISIS_NL = "Het gaat echt niet meer. Ik wil er niet meer zijn, ik denk erover om een eind aan mijn leven te maken."


async def _rows(sessions, stmt) -> list[Any]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return list((await session.execute(stmt)).scalars())


async def _crisis_audit(sessions) -> list[str]:  # type: ignore[no-untyped-def]
    entries = await _rows(sessions, select(AuditEntry).order_by(AuditEntry.seq))
    return [e.kind for e in entries if e.kind.startswith("crisis_")]


async def _chat(sessions, clock, world, text: str, client_id: str = "crisis-chat-1"):  # type: ignore[no-untyped-def]
    """A coachee's chat message through the chat's write path (group commit and its hook)."""
    writer = ExchangeWriter(sessions, clock, after_record=with_crisis_check(world.settings, None))
    writer.start()
    try:
        return await writer.submit(NewExchange(
            engagement_id=world.engagement_id, channel="chat", direction="in", author="coachee", author_name="Sanne",
            text=text, external_id=f"chat:{client_id}"))
    finally:
        await writer.stop()


async def test_a_crisis_mail_is_flagged_and_the_coach_alerted_at_once(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, notify_coach="digest")  # the alert ignores the digest
    listening = hub.subscribe(topics.coach(world.coach_id))
    outcome = await take(world, sessions, hub, clock, build_mail(subject="Zwaar", text=CRISIS_NL))
    [flag] = await _rows(sessions, select(CrisisFlag))
    assert flag.exchange_id == outcome.recorded.exchange.id and flag.status == "open" and flag.channel == "mail"
    assert "suicidal" in flag.categories.split() and any("eind aan mijn leven" in w for w in flag.excerpts)
    [entry] = await _rows(sessions, select(Exchange).where(Exchange.direction == "internal"))
    assert entry.meta["event"] == "crisis_flag" and notices.shape(entry.direction, entry.author, entry.meta,
                                                                  "coach") == "crisis-flag"
    assert "gedachten aan zelfdoding" in notices.render_text(entry.meta["notice"], "nl", "UTC")
    [alert] = await _rows(sessions, select(MailOutbox).where(MailOutbox.kind == "crisis_alert"))
    mail = message_from_bytes(alert.raw, policy=default_policy)
    assert alert.recipient == world.coach_email and mail["Subject"] == "Crisissignaal: Sanne"
    body = mail.get_body(("plain",)).get_content()
    assert f"/engagements/{world.engagement_id}" in body and "eind aan mijn leven" not in body  # no content
    events = [listening.queue.get_nowait() for _ in range(listening.queue.qsize())]
    assert {"type": "crisis", "engagement_id": world.engagement_id, "flag_id": flag.id,
            "name": "Sanne"} in events
    assert await _crisis_audit(sessions) == ["crisis_flagged"]


async def test_a_held_crisis_mail_is_flagged_when_the_coach_releases_it(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    # Sent from another address than the coachee's: held in quarantine, in no logbook yet.
    world = await make_world(sessions, clock, db_url)
    held = await take(world, sessions, hub, clock, build_mail(sender="sanne.prive@else.test", subject="Zwaar",
                                                              to=reply_to(world.engagement_id), text=CRISIS_NL))
    assert held.kind == "quarantine" and await _rows(sessions, select(CrisisFlag)) == []
    async with unit_of_work(sessions) as session:
        recorded = await do_assign(session, world.coach_id, held.quarantine.id, None, mail=world.settings.mail,
                                   now=clock.now(), base_url="https://coaching.test")
    [flag] = await _rows(sessions, select(CrisisFlag))
    assert (flag.exchange_id, flag.channel, flag.status) == (recorded.exchange.id, "mail", "open")
    assert "suicidal" in flag.categories.split()
    [alert] = await _rows(sessions, select(MailOutbox).where(MailOutbox.kind == "crisis_alert"))
    assert alert.recipient == world.coach_email
    assert await _crisis_audit(sessions) == ["crisis_flagged"]


async def test_negations_and_quoted_mail_do_not_fire_through_the_pipeline(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    quoted = ("Dank je, het gaat al veel beter.\n\nOp 20 november 2026 schreef Sanne <sanne@example.test>:\n"
              f"> {CRISIS_NL}\n")
    await take(world, sessions, hub, clock, build_mail(text="Ik zou mezelf nooit iets aandoen, hoor."))
    await take(world, sessions, hub, clock, build_mail(text=quoted))
    await take(world, sessions, hub, clock, build_mail(text="Ik ga dood van het lachen om die presentatie."))
    assert await _rows(sessions, select(CrisisFlag)) == []
    assert await _rows(sessions, select(MailOutbox).where(MailOutbox.kind == "crisis_alert")) == []


async def test_a_crisis_chat_message_shows_the_resources_and_the_coach_marks_it(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, second_coach=True)
    coachee_chat = hub.subscribe(topics.engagement(world.engagement_id))
    recorded = await _chat(sessions, clock, world, CRISIS_NL)
    [flag] = await _rows(sessions, select(CrisisFlag))
    panel = [e for e in (await _rows(sessions, select(Exchange).order_by(Exchange.id)))
             if (e.meta or {}).get("event") == "crisis_resources"]
    assert flag.exchange_id == recorded.exchange.id and len(panel) == 1
    shown = notices.render_html(panel[0].meta["notice"], "nl", "Europe/Amsterdam")
    assert "113 Zelfmoordpreventie" in shown and '<a href="tel:08000113">0800-0113</a>' in shown
    assert '<a href="tel:112">112</a>' in shown
    frames = [coachee_chat.queue.get_nowait() for _ in range(coachee_chat.queue.qsize())]
    assert any(f["exchange"]["event"] == "crisis_resources" for f in frames if f.get("type") == "exchange")
    assert all(f["exchange"]["direction"] != "internal" for f in frames if f.get("type") == "exchange")

    async with sessions() as session:  # another coach can neither see nor mark it
        other = await session.get(Coach, world.other_coach_id)
        try:
            await do_resolve_crisis(session, other, world.engagement_id, flag.id, "false_alarm", now=clock.now())
        except NotFound:
            pass
        else:
            raise AssertionError("another coach marked the signal")
    async with unit_of_work(sessions) as session:
        coach = await session.get(Coach, world.coach_id)
        await do_resolve_crisis(session, coach, world.engagement_id, flag.id, "false_alarm", now=clock.now())
    async with unit_of_work(sessions) as session:  # marking it again changes nothing
        coach = await session.get(Coach, world.coach_id)
        await do_resolve_crisis(session, coach, world.engagement_id, flag.id, "handled", now=clock.now())
    [flag] = await _rows(sessions, select(CrisisFlag))
    assert flag.status == "false_alarm" and flag.resolved_by == world.coach_id
    marks = [e for e in await _rows(sessions, select(Exchange)) if (e.meta or {}).get("event") == "crisis_resolved"]
    assert len(marks) == 1 and notices.render_text(marks[0].meta["notice"], "nl", "UTC") == (
        "Marieke Bos markeerde het crisissignaal als vals alarm.")
    assert await _crisis_audit(sessions) == ["crisis_flagged", "crisis_false_alarm"]


async def test_an_everyday_chat_message_costs_no_flag(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    await _chat(sessions, clock, world, "Ik heb geoefend met nee zeggen, het ging best goed!")
    assert await _rows(sessions, select(CrisisFlag)) == []
    assert len(await _rows(sessions, select(Exchange))) == 1


async def test_inbox_engagement_page_and_marking_in_the_browser_pages(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, second_coach=True)
    await _chat(sessions, clock, world, CRISIS_NL)
    [flag] = await _rows(sessions, select(CrisisFlag))
    async with app_client(world.settings, clock) as client:
        await login(client, world.other_coach_email)
        token = await csrf_of(client, "/settings/crisis")
        response = await client.post(f"/engagements/{world.engagement_id}/crisis/{flag.id}",
                                     data={"_csrf": token, "resolution": "handled"}, allow_redirects=False)
        assert response.status == 404  # not theirs: not found, and not marked
        await client.post("/logout", data={"_csrf": token})

        await login(client, world.coach_email)
        inbox = await (await client.get("/")).text()
        first_row = inbox.split('class="inbox-row', 2)[1]
        assert first_row.startswith(" crisis") and "Crisissignaal" in first_row
        page = await (await client.get(f"/engagements/{world.engagement_id}")).text()
        assert 'id="crisis"' in page and "eind aan mijn leven" in page
        token = await csrf_of(client, f"/engagements/{world.engagement_id}")
        for bad in ({"resolution": "ignore"}, {}):  # a clear refusal, never a 500
            response = await client.post(f"/engagements/{world.engagement_id}/crisis/{flag.id}",
                                         data={"_csrf": token, **bad}, allow_redirects=False)
            assert response.status == 400
        for path in (f"/engagements/{world.engagement_id}/crisis/99999999999999999999",
                     f"/engagements/{world.engagement_id}/crisis/x"):
            assert (await client.post(path, data={"_csrf": token, "resolution": "handled"})).status == 404
        response = await client.post(f"/engagements/{world.engagement_id}/crisis/{flag.id}",
                                     data={"_csrf": token, "resolution": "handled"}, allow_redirects=False)
        assert response.status == 303
        assert 'class="inbox-row crisis' not in await (await client.get("/")).text()
        assert 'id="crisis"' not in await (await client.get(f"/engagements/{world.engagement_id}")).text()


async def test_the_coach_sets_their_crisis_resources(sessions, clock, hub, db_url) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url)
    async with app_client(world.settings, clock) as client:
        await login(client, world.coach_email)
        page = await (await client.get("/settings/crisis?language=nl")).text()
        assert 'value="113 Zelfmoordpreventie"' in page and "standaardhulplijnen" in page
        token = await csrf_of(client, "/settings/crisis")
        refused = await client.post("/settings/crisis", data={"_csrf": token, "language": "nl", "name-0": "Huisarts",
                                                              "phones-0": "bel me", "url-0": ""})
        assert refused.status == 400 and "Hulplijn 1: een telefoonnummer" in await refused.text()
        assert (await client.post("/settings/crisis", data={"_csrf": token, "language": "xx"})).status == 404
        assert (await client.post("/settings/crisis", data={"_csrf": token, "language": "nl"})).status == 400
        assert (await client.post("/settings/crisis", data={"language": "nl", "name-0": "X"})).status == 403
        saved = await client.post("/settings/crisis", data={
            "_csrf": token, "language": "nl", "name-0": "Praktijk De Linde (crisisdienst)", "phones-0": "030-1234567",
            "description-0": "Buiten kantoortijd.", "name-1": "112", "phones-1": "112"})
        assert saved.status == 200 and "Bewaard" in await saved.text()
    recorded = await _chat(sessions, clock, world, CRISIS_NL)
    panel = [e for e in await _rows(sessions, select(Exchange)) if (e.meta or {}).get("event") == "crisis_resources"]
    shown = notices.render_text(panel[0].meta["notice"], "nl", "UTC")
    assert "Praktijk De Linde (crisisdienst)" in shown and "Bel 030-1234567" in shown
    assert "113 Zelfmoordpreventie" not in shown and recorded.created
    assert await _crisis_audit(sessions) == ["crisis_resources_changed", "crisis_flagged"]
