"""The resource library through the web, in-process on both databases: resources of every
kind with tags and search, sharing by chat and by mail (a file as an attachment through the
outbox to a real SMTP relay), an exercise answered once, who has not answered yet, and a
deletion that keeps what was shared. Stored sealed: no title or answer readable in the
database."""

from __future__ import annotations

import re
from email import message_from_bytes
from email.policy import default as default_policy

from aiohttp import FormData
from sqlalchemy import text

from ecoach.logbook.db import create_engine
from tests.dovecot import wait_until
from tests.file_samples import PDF
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.support import app_client, csrf_of, login, seed, settings_for

RESOURCE = re.compile(r'href="/resources/(\d+)"')
SHARED = re.compile(r'href="(/c/[^"]+/shared/\d+)"')


async def add(client, csrf: str, **fields: str) -> int:  # type: ignore[no-untyped-def]
    response = await client.post("/resources", data={"_csrf": csrf, **fields}, allow_redirects=False)
    assert response.status == 303, await response.text()
    return int(response.headers["Location"].rsplit("/", 1)[1])


async def raw_rows(db_url: str, sql: str) -> list[bytes]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return [bytes(v) if not isinstance(v, str) else v.encode() for row in await conn.execute(text(sql))
                    for v in row if v is not None]
    finally:
        await engine.dispose()


async def share(client, eid: int, rid: int, channel: str = "chat") -> int:  # type: ignore[no-untyped-def]
    page = await (await client.get(f"/engagements/{eid}")).text()
    csrf = re.search(r'name="_csrf" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    client_id = re.search(r'name="client_id" value="([0-9a-f]{32})"', page[page.index("share-resources"):]).group(1)  # type: ignore[union-attr]
    response = await client.post(f"/engagements/{eid}/shares", data={
        "_csrf": csrf, "client_id": client_id, "resource_id": str(rid), "channel": channel}, allow_redirects=False)
    assert response.status == 303, await response.text()
    # The same form again (a double click): the same share.
    again = await client.post(f"/engagements/{eid}/shares", data={
        "_csrf": csrf, "client_id": client_id, "resource_id": str(rid), "channel": channel}, allow_redirects=False)
    assert again.headers["Location"] == response.headers["Location"]
    return int(response.headers["Location"].rsplit("#x", 1)[1])


async def test_library_search_share_and_answer(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    data = await seed(db_url, clock.now(), email="marieke@example.org", language="en")
    second = await seed(db_url, clock.now(), email="joost@example.org", coachee="Ahmed")
    async with app_client(settings_for(db_url), clock) as coach, app_client(settings_for(db_url), clock) as coachee:
        await login(coach, data["email"])
        csrf = await csrf_of(coach, "/resources")
        bad = await coach.post("/resources", data={"_csrf": csrf, "kind": "link", "title": "x", "url": "javascript:alert(1)"})
        assert bad.status == 400 and "https://" in await bad.text()
        values = await add(coach, csrf, kind="exercise", title="Waardenonderzoek",
                           body="Neem er rustig de tijd voor.", questions="Wat geeft je energie?\nWat kost je energie?",
                           tags="waarden, Energie")
        await add(coach, csrf, kind="link", title="Ademhaling", url="https://example.org/adem", tags="stress")
        await add(coach, csrf, kind="text", title="Grenzen stellen", body="Nee zeggen is ja zeggen tegen jezelf.")
        form = FormData({"_csrf": csrf, "kind": "file", "title": "Werkblad doelen", "tags": "doelen"})
        form.add_field("file", PDF, filename="doelen.pdf", content_type="application/pdf")
        made = await coach.post("/resources", data=form, allow_redirects=False)
        assert made.status == 303, await made.text()
        file_id = int(made.headers["Location"].rsplit("/", 1)[1])

        async def found(query: str) -> set[int]:
            page = await (await coach.get(f"/resources?{query}")).text()
            return {int(n) for n in RESOURCE.findall(page)}

        assert len(await found("")) == 4
        assert await found("q=waard") == {values}          # a word's prefix
        assert await found("q=ENERGIE") == {values}        # a question, any case
        assert await found("tag=stress") != await found("tag=waarden")
        assert await found("q=adem+stress") == set()       # every word must match
        assert await found("q=werkblad") == {file_id}
        assert (await coach.get(f"/resources/{file_id}/file")).headers["Content-Type"] == "application/pdf"

        # Shared with the coachee by chat: in the timeline and in "shared with you".
        eid = data["engagement_id"]
        exchange_id = await share(coach, eid, values)
        chat = f"/c/{data['chat_token']}"
        page = await (await coachee.get(chat)).text()
        assert "Waardenonderzoek" in page and f"{chat}/shared/{exchange_id}" in page
        shared = await (await coachee.get(f"{chat}/shared/{exchange_id}")).text()
        assert "Wat geeft je energie?" in shared
        resource_page = await (await coach.get(f"/resources/{values}")).text()
        assert "Not answered yet: Sanne" in resource_page

        csrf_coachee = await csrf_of(coachee, f"{chat}/shared/{exchange_id}")
        empty = await coachee.post(f"{chat}/shared/{exchange_id}", data={"_csrf": csrf_coachee})
        assert empty.status == 400 and "at least one question" in await empty.text()
        sent = await coachee.post(f"{chat}/shared/{exchange_id}", data={
            "_csrf": csrf_coachee, "answer_0": "Wandelen in het bos", "answer_1": "Lange vergaderingen"},
            allow_redirects=False)
        assert sent.status == 303
        twice = await coachee.post(f"{chat}/shared/{exchange_id}", data={"_csrf": csrf_coachee, "answer_0": "nog eens"})
        assert twice.status == 409
        timeline = await (await coach.get(f"/engagements/{eid}")).text()
        assert "Wandelen in het bos" in timeline and "Lange vergaderingen" in timeline
        assert "Everyone answered." in await (await coach.get(f"/resources/{values}")).text()

        # Another coach sees none of it.
        await login(coach, second["email"])
        assert (await coach.get(f"/resources/{values}")).status == 404
        assert await found("") == set()
        assert (await coach.post(f"/engagements/{eid}/shares", data={
            "_csrf": await csrf_of(coach, "/resources"), "client_id": "e" * 32, "resource_id": str(values)})).status == 404

        # Deleting the library item keeps the share and the answers.
        await login(coach, data["email"])
        deleted = await coach.post(f"/resources/{values}/delete", data={"_csrf": await csrf_of(coach, "/resources")},
                                   allow_redirects=False)
        assert deleted.status == 303
        assert "Wat geeft je energie?" in await (await coachee.get(f"{chat}/shared/{exchange_id}")).text()

    stored = b"".join(await raw_rows(db_url, "SELECT title, body, questions, tags FROM resource")
                      + await raw_rows(db_url, "SELECT title, questions FROM resource_share")
                      + await raw_rows(db_url, "SELECT answers FROM exercise_answer"))
    for word in (b"Ademhaling", b"Waardenonderzoek", b"Wandelen", b"stress"):
        assert word not in stored


async def test_a_file_shared_by_mail_goes_as_an_attachment(db_url, clock, smtp_relay: SmtpRelay) -> None:  # type: ignore[no-untyped-def]
    data = await seed(db_url, clock.now(), email="marieke@example.org", coachee_email="sanne@example.org")
    mail = {"enabled": True, "domain": "coaching.test", "smtp_host": smtp_relay.host, "smtp_port": smtp_relay.port}
    async with app_client(settings_for(db_url, mail=mail), clock) as coach:
        await login(coach, data["email"])
        csrf = await csrf_of(coach, "/resources")
        form = FormData({"_csrf": csrf, "kind": "file", "title": "Werkblad doelen"})
        form.add_field("file", PDF, filename="doelen.pdf", content_type="application/pdf")
        rid = int((await coach.post("/resources", data=form, allow_redirects=False)).headers["Location"].rsplit("/", 1)[1])
        exercise = await add(coach, csrf, kind="exercise", title="Terugblik", questions="Wat ging goed?")
        await share(coach, data["engagement_id"], rid, channel="mail")
        await share(coach, data["engagement_id"], exercise, channel="mail")
        await wait_until(lambda: len(smtp_relay.messages) >= 2)
    first, second = (message_from_bytes(m.raw, policy=default_policy) for m in smtp_relay.messages[:2])
    files = [(p.get_filename(), p.get_content()) for p in first.iter_attachments()]
    assert files == [("doelen.pdf", PDF)]
    assert "/c/" in second.get_body(("plain",)).get_content()  # the exercise is answered on the chat page
