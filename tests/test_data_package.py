"""The coachee's data package on both databases: the round trip (schema, every exchange,
attachments, sessions, the readable copy), the request -> approve -> link flow with its
mails, the link's expiry, private notes by setting, and isolation between coaches and
between coachees' links."""

from __future__ import annotations

import re
from datetime import timedelta
from email import message_from_bytes
from email.policy import default

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from ecoach.actions.data_package import schema_text
from ecoach.logbook.models import Engagement, Exchange
from ecoach.logbook.privacy_models import ExportRequest
from tests.dovecot import wait_until
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.data_rights_support import NOTE, PDF, read_package, rich_engagement
from tests.support import app_client, csrf_of, login, mentions, seed, settings_for


@pytest.mark.awkward_clock
async def test_round_trip_holds_every_exchange_and_validates(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, record_exchange, clock, db_url) -> None:
    rich = await rich_engagement(sessions, make_coach, make_engagement, record_exchange, clock)
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, rich.coach.email)
        response = await client.get(f"/engagements/{rich.engagement_id}/data-package")
        assert response.status == 200, await response.text()
        assert response.headers["Content-Type"] == "application/zip"
        assert "attachment;" in response.headers["Content-Disposition"]
        archive, data = read_package(await response.read())
    names = set(archive.namelist())
    assert {"readme.txt", "data.json", "timeline.html", "sessions.ics", "schema.json"} <= names
    assert archive.read("schema.json") == schema_text()
    # Every exchange the coachee saw, in order; the private note is the coach's own.
    assert [x["id"] for x in data["exchanges"]] == rich.shared and data["exchange_count"] == len(rich.shared)
    assert rich.note_id not in {x["id"] for x in data["exchanges"]} and data["includes_private_notes"] is False
    mail = next(x for x in data["exchanges"] if x["channel"] == "mail")
    assert mail["subject"] == "Mijn planning" and len(mail["attachments"]) == 2
    for item in mail["attachments"]:
        assert archive.read(item["path"]) == rich.attachments[item["filename"]]
        assert item["path"].startswith("attachments/") and ".." not in item["path"].split("/")
    assert archive.read(next(a["path"] for a in mail["attachments"] if a["filename"] == "weekplanning.pdf")) == PDF
    # The session, in the JSON and as a calendar.
    assert [s["status"] for s in data["sessions"]] == ["confirmed"]
    events = Calendar.from_ical(archive.read("sessions.ics")).walk("VEVENT")
    assert [str(e["uid"]) for e in events] == [data["sessions"][0]["uid"]]
    # The readable copy: every exchange, escaped, loading nothing from elsewhere.
    html = archive.read("timeline.html").decode()
    assert html.count('<li class="exchange') == len(rich.shared)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script" not in html
    assert "default-src 'none'" in html and NOTE not in html
    assert 'href="attachments/' in html


@pytest.mark.awkward_clock
async def test_private_notes_are_in_when_the_practice_says_so(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, record_exchange, clock, db_url) -> None:
    rich = await rich_engagement(sessions, make_coach, make_engagement, record_exchange, clock)
    settings = settings_for(db_url, export={"include_private_notes": True})
    async with app_client(settings, clock) as client:
        await login(client, rich.coach.email)
        _archive, data = read_package(await (await client.get(f"/engagements/{rich.engagement_id}/data-package")).read())
    assert data["includes_private_notes"] is True
    assert NOTE in [x["text"] for x in data["exchanges"]]


@pytest.mark.awkward_clock
async def test_request_approve_download_and_expiry(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, record_exchange, clock, db_url, smtp_relay: SmtpRelay) -> None:
    rich = await rich_engagement(sessions, make_coach, make_engagement, record_exchange, clock)
    settings = settings_for(db_url, public_url="http://coach.test", export={"link_hours": 48},
                            mail={"enabled": True, "domain": "coach.test", "smtp_host": smtp_relay.host,
                                  "smtp_port": smtp_relay.port})
    async with app_client(settings, clock) as coachee, app_client(settings, clock) as coach:
        chat = f"/c/{rich.chat_token}"
        token = await csrf_of(coachee, chat)
        for _ in range(2):  # asking twice makes one request
            response = await coachee.post(f"{chat}/data", data={"_csrf": token}, allow_redirects=False)
            assert response.status == 303 and response.headers["Location"] == f"{chat}#your-data"
        page = await (await coachee.get(chat)).text()
        assert "Je verzoek is naar je coach gestuurd" in page and 'id="data-download"' not in page
        async with sessions() as session:
            [request] = (await session.execute(select(ExportRequest))).scalars().all()
            asked = (await session.execute(select(Exchange).where(Exchange.external_id == f"export:{request.id}:asked"))).scalar_one()
        assert asked.direction == "in" and asked.author == "coachee"
        # The coach sees it in the inbox and approves on the engagement page.
        await login(coach, rich.coach.email)
        inbox = await (await coach.get("/")).text()
        assert "vroeg om een kopie van de eigen gegevens" in inbox
        csrf = await csrf_of(coach, f"/engagements/{rich.engagement_id}")
        response = await coach.post(f"/engagements/{rich.engagement_id}/data-requests/{request.id}/approve",
                                    data={"_csrf": csrf}, allow_redirects=False)
        assert response.status == 303
        again = await coach.post(f"/engagements/{rich.engagement_id}/data-requests/{request.id}/approve",
                                 data={"_csrf": csrf}, allow_redirects=False)
        assert again.status == 409
        # The coachee's chat shows the link; the mail carries the same one.
        page = await (await coachee.get(chat)).text()
        link = re.search(r'id="data-download" href="(/data/[A-Za-z0-9_-]+)"|href="(/data/[A-Za-z0-9_-]+)" id="data-download"', page)
        assert link, page
        path = link.group(1) or link.group(2)
        await wait_until(lambda: len(smtp_relay.messages) == 2)
        to_coach, to_coachee = (message_from_bytes(m.raw, policy=default) for m in smtp_relay.messages)
        assert to_coach["To"].addresses[0].addr_spec == rich.coach.email
        assert "/engagements/" in to_coach.get_body(("plain",)).get_content()
        assert to_coachee["To"].addresses[0].addr_spec == "coachee0@example.org"
        assert f"http://coach.test{path}" in to_coachee.get_body(("plain",)).get_content()
        response = await coachee.get(path)
        assert response.status == 200
        _archive, data = read_package(await response.read())
        assert data["engagement"]["id"] == rich.engagement_id  # the link is this engagement's, nothing else
        assert [x["id"] for x in data["exchanges"]][: len(rich.shared)] == rich.shared
        # After the link's hours it is refused, clearly, in the coachee's language.
        clock.advance(hours=48, seconds=1)
        response = await coachee.get(path)
        assert response.status == 404 and "Deze downloadlink is verlopen" in await response.text()
        assert (await coachee.get("/data/" + "x" * 43)).status == 404


@pytest.mark.awkward_clock
async def test_decline_tells_the_coachee_why(sessions, make_coach, make_engagement, record_exchange, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    rich = await rich_engagement(sessions, make_coach, make_engagement, record_exchange, clock)
    async with app_client(settings_for(db_url), clock) as coachee, app_client(settings_for(db_url), clock) as coach:
        chat = f"/c/{rich.chat_token}"
        await coachee.post(f"{chat}/data", data={"_csrf": await csrf_of(coachee, chat)}, allow_redirects=False)
        async with sessions() as session:
            request_id = (await session.execute(select(ExportRequest.id))).scalar_one()
        await login(coach, rich.coach.email)
        csrf = await csrf_of(coach, f"/engagements/{rich.engagement_id}")
        url = f"/engagements/{rich.engagement_id}/data-requests/{request_id}/decline"
        empty = await coach.post(url, data={"_csrf": csrf, "reason": "  "}, allow_redirects=False)
        assert empty.status == 400 and "Zeg waarom" in await empty.text()
        ok = await coach.post(url, data={"_csrf": csrf, "reason": "Je kreeg gisteren al een kopie."},
                              allow_redirects=False)
        assert ok.status == 303
        page = await (await coachee.get(chat)).text()
        assert "Je kreeg gisteren al een kopie." in page and "Vraag een kopie van mijn gegevens" in page


async def test_the_request_and_its_answers_read_in_each_readers_language(sessions, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    """The coach reads Dutch, the coachee English: each sees the request, the decline and the
    approval in their own language, as ecoach's lines (not as the coachee's own bubble)."""
    ids = await seed(db_url, clock.now(), email="marieke@example.org")
    async with sessions() as session:
        (await session.get(Engagement, ids["engagement_id"])).language = "en"
        await session.commit()
    async with app_client(settings_for(db_url), clock) as coachee, app_client(settings_for(db_url), clock) as coach:
        chat = f"/c/{ids['chat_token']}"
        await login(coach, ids["email"])
        engagement = f"/engagements/{ids['engagement_id']}"

        async def ask() -> int:
            await coachee.post(f"{chat}/data", data={"_csrf": await csrf_of(coachee, chat)}, allow_redirects=False)
            async with sessions() as session:
                return int((await session.execute(select(func.max(ExportRequest.id)))).scalar_one())

        def lines(page: str, words: str) -> list[str]:
            return re.findall(r'<li class="exchange ([\w-]+)[^"]*"[^>]*>(?:(?!</li>).)*?' + re.escape(words), page, re.S)

        first = await ask()
        assert lines(await (await coachee.get(chat)).text(), "Sanne asked for a copy of their data (right of access).") \
            == ["system-line"]
        assert lines(await (await coach.get(engagement)).text(),
                     "Sanne vroeg om een kopie van de eigen gegevens (recht op inzage).") == ["system-line"]
        csrf = await csrf_of(coach, engagement)
        await coach.post(f"{engagement}/data-requests/{first}/decline", data={"_csrf": csrf, "reason": "Al gedaan."},
                         allow_redirects=False)
        assert lines(await (await coachee.get(chat)).text(),
                     "The request for a copy of the data was not approved: Al gedaan.") == ["system-line"]
        assert lines(await (await coach.get(engagement)).text(),
                     "Het verzoek om een kopie van de gegevens is niet goedgekeurd: Al gedaan.") == ["system-line"]
        second = await ask()
        await coach.post(f"{engagement}/data-requests/{second}/approve", data={"_csrf": await csrf_of(coach, engagement)},
                         allow_redirects=False)
        chat_page = await (await coachee.get(chat)).text()
        assert lines(chat_page, "The data package is ready.") == ["system-line"]
        assert "Het gegevenspakket staat klaar." in await (await coach.get(engagement)).text()
        assert "staat klaar" not in chat_page and "Keur het goed" not in chat_page


async def test_a_coach_never_exports_another_coachs_engagement(clock, db_url) -> None:  # type: ignore[no-untyped-def]
    mine = await seed(db_url, clock.now(), email="marieke@example.org")
    theirs = await seed(db_url, clock.now(), email="joost@example.org", coachee="Pim")
    async with app_client(settings_for(db_url), clock) as coachee, app_client(settings_for(db_url), clock) as coach:
        chat = f"/c/{theirs['chat_token']}"
        await coachee.post(f"{chat}/data", data={"_csrf": await csrf_of(coachee, chat)}, allow_redirects=False)
        await login(coach, mine["email"])
        assert (await coach.get(f"/engagements/{theirs['engagement_id']}/data-package")).status == 404
        csrf = await csrf_of(coach, f"/engagements/{mine['engagement_id']}")
        for engagement in (mine["engagement_id"], theirs["engagement_id"]):
            for action in ("approve", "decline"):
                response = await coach.post(f"/engagements/{engagement}/data-requests/1/{action}",
                                            data={"_csrf": csrf, "reason": "x"}, allow_redirects=False)
                assert response.status == 404, (engagement, action)
        inbox = await (await coach.get("/")).text()
        assert not mentions(inbox, "Pim")
        # The other coachee's chat page knows nothing of this request either.
        page = await (await coachee.get(f"/c/{mine['chat_token']}")).text()
        assert "Vraag een kopie van mijn gegevens" in page
    assert (await _status(db_url, clock, "/data/" + mine["chat_token"])) == 404  # a chat token is no download link


async def _status(db_url: str, clock, path: str) -> int:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as client:
        return (await client.get(path)).status


async def test_requests_are_refused_for_unknown_links(clock, db_url) -> None:  # type: ignore[no-untyped-def]
    mine = await seed(db_url, clock.now(), email="marieke@example.org")
    async with app_client(settings_for(db_url), clock) as coachee:
        chat = f"/c/{mine['chat_token']}"
        csrf = await csrf_of(coachee, chat)
        response = await coachee.post("/c/" + "y" * 43 + "/data", data={"_csrf": csrf}, allow_redirects=False)
        assert response.status == 404
        no_csrf = await coachee.post(f"{chat}/data", data={}, allow_redirects=False)
        assert no_csrf.status == 403
    clock.advance(days=1)
    assert timedelta(days=1)  # the clock moves; nothing here reads the wall clock
