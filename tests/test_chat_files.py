"""Files in the chat, in-process on both databases: both ways, downloaded intact, resent
once; every bad file refused with a clear message and nothing stored, not even half."""

from __future__ import annotations

import hashlib
from urllib.parse import quote

import pytest
from sqlalchemy import func, select

from ecoach.actions import chat_files
from ecoach.actions.unit import unit_of_work
from ecoach.core.files import FileRules
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.mail_models import Attachment
from ecoach.logbook.models import Engagement, Exchange
from ecoach.logbook.resource_models import AttachmentPreview
from tests.file_samples import PDF, docx, lying_zip, png, zip_bomb
from tests.support import app_client, login, seed, settings_for

CLIENT_A = "a" * 32


async def counts(db_url: str) -> tuple[int, int, int]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            return tuple([(await session.execute(select(func.count()).select_from(m))).scalar_one()  # type: ignore[return-value]
                          for m in (Exchange, Attachment, AttachmentPreview)])
    finally:
        await engine.dispose()


async def csrf_and_page(client, path: str) -> str:  # type: ignore[no-untyped-def]
    text = await (await client.get(path)).text()
    marker = 'data-csrf="'
    return text[text.index(marker) + len(marker):].split('"', 1)[0]


def put(client, path: str, data: bytes, name: str, csrf: str):  # type: ignore[no-untyped-def]
    return client.put(path, data=data, headers={"X-CSRF-Token": csrf, "X-File-Name": quote(name),
                                                "Accept": "application/json"})


async def test_files_go_both_ways_intact_and_once(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    data = await seed(db_url, clock.now(), email="marieke@example.org")
    other = await seed(db_url, clock.now(), email="joost@example.org", coachee="Ahmed")
    eid, chat = data["engagement_id"], f"/c/{data['chat_token']}"
    photo, sheet = png(1200, 900), docx()
    async with app_client(settings_for(db_url), clock) as coachee, app_client(settings_for(db_url), clock) as coach:
        csrf = await csrf_and_page(coachee, chat)
        sent = await put(coachee, f"{chat}/files/{CLIENT_A}", photo, "vakantie foto.png", csrf)
        assert sent.status == 200, await sent.text()
        exchange = (await sent.json())["exchange"]
        assert exchange["text"] == "vakantie foto.png" and exchange["file"]["preview"] is True
        again = await put(coachee, f"{chat}/files/{CLIENT_A}", photo, "vakantie foto.png", csrf)
        assert (await again.json())["duplicate"] is True and (await again.json())["exchange"]["id"] == exchange["id"]

        await login(coach, data["email"])
        csrf_coach = await csrf_and_page(coach, f"/engagements/{eid}")
        reply = await put(coach, f"/engagements/{eid}/files/{'b' * 32}", sheet, "werkblad.docx", csrf_coach)
        assert reply.status == 200, await reply.text()
        reply_id = (await reply.json())["exchange"]["id"]

        # Each side downloads the other's file: the same bytes, the verified type, a download.
        got = await coach.get(f"/engagements/{eid}/exchanges/{exchange['id']}/file")
        assert hashlib.sha256(await got.read()).digest() == hashlib.sha256(photo).digest()
        assert got.headers["Content-Type"] == "image/png"
        assert got.headers["Content-Disposition"].startswith("attachment;")
        assert got.headers["X-Content-Type-Options"] == "nosniff"
        back = await coachee.get(f"{chat}/exchanges/{reply_id}/file")
        assert await back.read() == sheet
        assert back.headers["Content-Type"].startswith("application/vnd.openxmlformats")
        preview = await coachee.get(f"{chat}/exchanges/{exchange['id']}/preview")
        assert preview.headers["Content-Type"] == "image/jpeg" and len(await preview.read()) < len(photo)
        assert (await coachee.get(f"{chat}/exchanges/{reply_id}/preview")).status == 404
        page = await (await coach.get(f"/engagements/{eid}")).text()
        assert f"/engagements/{eid}/exchanges/{exchange['id']}/file" in page

        # Another coach, and another coachee's link, find nothing.
        await login(coach, other["email"])
        assert (await coach.get(f"/engagements/{eid}/exchanges/{exchange['id']}/file")).status == 404
        assert (await coachee.get(f"/c/{other['chat_token']}/exchanges/{exchange['id']}/file")).status == 404
    assert await counts(db_url) == (2, 2, 1)


BAD = [
    ("setup.exe", b"MZ" + bytes(200), 415, "not accepted"),
    ("../../etc/passwd.txt", b"root", 400, "path"),
    ("rapport\x00.pdf", PDF, 400, "NUL"),
    ("foto\u202egnp.exe", b"x", 400, "direction-changing"),
    ("CON.pdf", PDF, 400, "reserved device name"),
    ("report.pdf", zip_bomb(), 415, "its content is ZIP"),
    ("report.docx", zip_bomb(), 413, "zip bomb"),
    ("report.docx", lying_zip(), None, "report.docx"),
    ("large.pdf", PDF + bytes(2 * 1024 * 1024), 413, "the limit is 1.0 MB"),
]


async def test_bad_files_are_refused_clearly_and_nothing_is_stored(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    data = await seed(db_url, clock.now(), email="marieke@example.org", language="en")
    chat = f"/c/{data['chat_token']}"
    before = await counts(db_url)
    settings = settings_for(db_url, files={"max_bytes": 1024 * 1024})
    async with app_client(settings, clock) as client:
        csrf = await csrf_and_page(client, chat)
        for n, (name, body, status, message) in enumerate(BAD):
            response = await put(client, f"{chat}/files/{n:032d}", body, name, csrf)
            error = (await response.json())["error"]
            assert response.status == (status or response.status) and 400 <= response.status < 500, (name, error)
            if status is not None:
                assert message in error["message"], (name, error)
        # Without the CSRF token nothing is read at all.
        response = await client.put(f"{chat}/files/{'c' * 32}", data=PDF, headers={"X-File-Name": "a.pdf"})
        assert response.status == 403
    assert await counts(db_url) == before


async def test_a_failure_halfway_stores_nothing(sessions, make_coach, make_engagement, clock,  # type: ignore[no-untyped-def]
                                                monkeypatch) -> None:
    coach = await make_coach()
    created = await make_engagement(coach)
    ready = await chat_files.check_upload("foto.png", png(), FileRules())

    async def broken(*_args, **_kw):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    original = chat_files.do_store_file

    async def half(session, exchange_id, ready):  # type: ignore[no-untyped-def]
        await original(session, exchange_id, ready.__class__(ready.checked, ready.data, None))
        await broken()

    monkeypatch.setattr(chat_files, "do_store_file", half)
    with pytest.raises(RuntimeError):
        async with unit_of_work(sessions) as session:
            engagement = await session.get(Engagement, created.engagement.id)
            await chat_files.do_send_file(session, engagement, ready, author="coachee", author_name="S",
                                          client_id="d" * 32, now=clock.now())
    async with sessions() as session:
        for model in (Exchange, Attachment, AttachmentPreview):
            assert (await session.execute(select(func.count()).select_from(model))).scalar_one() == 0
