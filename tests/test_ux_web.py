"""Issue 12 without a browser: compressed responses, time zones typed as cities, one
24-hour date format per language, notices in the reader's language, details and the
coach's profile that change after creation, reopening, confirmation pages that change
nothing, undoing a discard, ``ecoach serve --host/--port`` and a complete messages.pot."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.dates import format_date
from sqlalchemy import select

from ecoach.core import formats, notices, zones
from ecoach.logbook.mail_models import Quarantine
from ecoach.logbook.models import Coach, Coachee, Engagement
from tests.booking_support import book, ctx, settings as booking_settings, setup
from tests.conftest import fresh_keyring
from tests.moments import next_weekday
from tests.server_process import free_port
from tests.support import app_client, csrf_of, login, settings_for

ROOT = Path(__file__).resolve().parents[1]


def test_one_date_format_per_language_always_24_hour() -> None:
    at = datetime(2027, 3, 3, 13, 5, tzinfo=timezone.utc)
    assert formats.moment(at, "Europe/Amsterdam", "nl") == "3 mrt 2027, 14:05"
    assert formats.moment(at, "America/New_York", "en") == "3 Mar 2027, 08:05"
    assert formats.span(at, at + timedelta(hours=1), "Europe/London", "en") == \
        "Wednesday 3 March 2027, 13:05–14:05 (Europe/London)"
    assert formats.language_name("nl", "nl") == "Nederlands" and formats.language_name("nl", "en") == "Dutch"
    assert formats.duration(1440, "nl") == "1 dag" and formats.duration(90, "en") == "90 minutes"
    assert formats.split_minutes(2880) == (2, "days") and formats.as_minutes(2, "days") == 2880


def test_time_zones_are_typed_as_cities_or_countries() -> None:
    assert zones.resolve("Amsterdam") == zones.resolve("amsterdam") == "Europe/Amsterdam"
    assert zones.resolve("Nederland") == zones.resolve("Netherlands") == "Europe/Amsterdam"
    assert zones.resolve("new york") == "America/New_York" and zones.resolve("Europe/Kiev") == "Europe/Kiev"
    assert zones.resolve("Atlantis") is None and zones.resolve("") is None
    assert zones.suggest("ams", "nl")[0] == ("Europe/Amsterdam", "Amsterdam (Nederland)")
    assert zones.label("America/New_York", "en") == "New York (United States)"


def test_a_notice_renders_in_each_readers_language_and_zone() -> None:
    start = datetime(2027, 3, 3, 13, tzinfo=timezone.utc)
    n = notices.notice(notices.line("%(type)s booked for %(when)s.", type="Intake",
                                    when=notices.span(start, start + timedelta(hours=1))),
                       notices.line("Join the video call: %(url)s", url=notices.url("https://meet.example/<x>")))
    assert notices.render_text(n, "nl", "Europe/Amsterdam").startswith(
        "Intake geboekt voor woensdag 3 maart 2027, 14:00–15:00 (Europe/Amsterdam).")
    assert notices.render_text(n, "en", "America/New_York").startswith(
        "Intake booked for Wednesday 3 March 2027, 08:00–09:00 (America/New_York).")
    assert '<a href="https://meet.example/&lt;x&gt;">' in notices.render_html(n, "en", "UTC")
    assert notices.shape("internal", "coach", None, "coach") == "note"
    assert notices.shape("in", "coachee", {"event": "booked"}, "coach") == "system-line"
    assert notices.shape("in", "coachee", None, "coachee") == "from-me"


async def test_pages_scripts_and_styles_leave_compressed(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as client:
        for path in ("/login", "/static/style.css", "/static/timeline.js"):
            response = await client.get(path, headers={"Accept-Encoding": "gzip"})
            assert response.status == 200 and response.headers.get("Content-Encoding") == "gzip", path
            assert "Accept-Encoding" in response.headers.get("Vary", ""), path
            await response.read()
        plain = await client.get("/login", headers={"Accept-Encoding": "identity"})
        assert "Content-Encoding" not in plain.headers
        small = await client.get("/zones?q=ams", headers={"Accept-Encoding": "gzip"})
        assert "Content-Encoding" not in small.headers  # below the threshold: not worth it
        assert (await small.json())["zones"][0]["id"] == "Europe/Amsterdam"
        # A different CSRF token in every page (BREACH): still accepted.
        first, second = await csrf_of(client, "/login"), await csrf_of(client, "/login")
        assert first != second


@pytest.mark.awkward_clock
async def test_system_notices_are_shown_in_the_readers_language(  # type: ignore[no-untyped-def]
        sessions, make_coach, make_engagement, clock, db_url) -> None:
    s = await setup(sessions, make_coach, make_engagement, clock.now())
    async with sessions() as session:  # the coach reads Dutch, the coachee English
        (await session.get(Engagement, s.engagement_ids[0])).language = "en"
        await session.commit()
    monday = next_weekday(clock, 0, 10, after=timedelta(days=2))  # 10:00 in Amsterdam, past the notice
    await book(sessions, ctx(booking_settings(db_url), clock.now()), s.tokens[0], s.type_id, monday, language="en")
    async with app_client(settings_for(db_url), clock) as client:  # the same secret as booking_support
        await login(client, s.coach.email)
        page = await (await client.get(f"/engagements/{s.engagement_ids[0]}")).text()
        day = format_date(monday.astimezone(ZoneInfo("Europe/Amsterdam")), "EEEE d MMMM y", locale="nl")
        assert f"geboekt voor {day}, 10:00–11:00" in page and "booked for" not in page
        assert "Taal: Engels" in page
        inbox = await (await client.get("/")).text()
        assert "geboekt voor" in inbox and "booked for" not in inbox


async def test_details_and_the_coachs_profile_change_after_creation(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    from tests.support import seed

    a = await seed(db_url, clock.now(), email="a@example.org")
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
        path = f"/engagements/{a['engagement_id']}/edit"
        token = await csrf_of(client, path)
        bad = await client.post(path, data={"_csrf": token, "coachee_name": "Sanne", "coachee_email": "",
                                            "language": "en", "time_zone": "Atlantis"})
        assert bad.status == 400 and "Atlantis" in await bad.text()
        done = await client.post(path, data={"_csrf": token, "coachee_name": "Sanne Smit",
                                             "coachee_email": "sanne@example.org", "language": "en",
                                             "time_zone": "New York"}, allow_redirects=False)
        assert done.status == 303
        token = await csrf_of(client, "/account")
        saved = await client.post("/account/profile", data={"_csrf": token, "name": "Anna B", "language": "en",
                                                            "time_zone": "Lisbon"}, allow_redirects=False)
        assert saved.status == 303 and saved.headers["Location"] == "/account?profile=saved"
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
        page = await (await client.get("/account?profile=saved")).text()
        assert 'lang="en"' in page and "Anna B" in page and "Lisbon (Portugal)" in page
    from ecoach.logbook.db import create_engine, session_factory

    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            engagement = await session.get(Engagement, a["engagement_id"])
            coachee = await session.get(Coachee, engagement.coachee_id)
            coach = await session.get(Coach, a["coach_id"])
            assert (engagement.language, engagement.time_zone) == ("en", "America/New_York")
            assert (coachee.name, coachee.email) == ("Sanne Smit", "sanne@example.org")
            assert (coach.name, coach.language, coach.time_zone) == ("Anna B", "en", "Europe/Lisbon")
    finally:
        await engine.dispose()


async def test_confirmation_pages_change_nothing_and_closed_engagements_reopen(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    from tests.support import seed

    a = await seed(db_url, clock.now(), email="a@example.org")
    e = a["engagement_id"]
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
        for path in (f"/engagements/{e}/status?action=close", f"/engagements/{e}/chat-link",
                     f"/engagements/{e}/chat-link/revoke"):
            page = await (await client.get(path)).text()
            assert 'method="post"' in page and "dialog" not in page, path
        assert (await client.get(f"/c/{a['chat_token']}")).status == 200  # the link still works
        token = await csrf_of(client, f"/engagements/{e}")
        closed = await client.post(f"/engagements/{e}/status", data={"_csrf": token, "action": "close"},
                                   allow_redirects=False)
        assert closed.headers["Location"] == f"/engagements/{e}?changed=closed"
        page = await (await client.get(closed.headers["Location"])).text()
        assert 'value="reopen"' in page
        await client.post(f"/engagements/{e}/status", data={"_csrf": token, "action": "reopen"})
        assert 'badge status-active' in await (await client.get(f"/engagements/{e}")).text()


async def test_a_discarded_mail_can_be_put_back(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    from ecoach.logbook.db import create_engine, session_factory
    from tests.support import seed

    a = await seed(db_url, clock.now(), email="a@example.org")
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            entry = Quarantine(coach_id=a["coach_id"], reason_code="unknown_sender", reason_detail="unknown sender",
                               from_address="x@example.org", subject="Hi", snippet="Hi", raw=b"Subject: Hi\r\n\r\nHi",
                               received_at=clock.now(), status="held")
            session.add(entry)
            await session.commit()
            entry_id = entry.id
        async with app_client(settings_for(db_url, mail={"enabled": True}), clock) as client:
            await login(client, a["email"])
            assert "Deze mail weggooien?" in await (await client.get(f"/quarantine/{entry_id}/discard")).text()
            token = await csrf_of(client, "/quarantine")
            gone = await client.post(f"/quarantine/{entry_id}/discard", data={"_csrf": token}, allow_redirects=False)
            assert gone.headers["Location"] == "/quarantine?done=discarded"
            back = await client.post(f"/quarantine/{entry_id}/restore", data={"_csrf": token}, allow_redirects=False)
            assert back.headers["Location"] == "/quarantine?done=restored"
        async with session_factory(engine, None, fresh_keyring())() as session:
            status = (await session.execute(select(Quarantine.status).where(Quarantine.id == entry_id))).scalar_one()
            assert status == "held"
    finally:
        await engine.dispose()


def test_serve_takes_a_host_and_a_port(tmp_path: Path) -> None:
    from tests.server_process import ServerProcess

    server = ServerProcess(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'e.db'}")
    server.port = free_port()
    server.env["ECOACH_PORT"] = "1"  # the option wins over the setting
    log = open(tmp_path / "out.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "ecoach", "serve", "--host", "127.0.0.1",
                             "--port", str(server.port)], cwd=tmp_path, env=server.env, stdout=log,
                            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(server.url + "/healthz", timeout=1) as response:
                    assert response.status == 200
                    break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError((tmp_path / "out.log").read_text())
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
    assert f"running on http://127.0.0.1:{server.port}" in (tmp_path / "out.log").read_text()
    bad = subprocess.run([sys.executable, "-m", "ecoach", "serve", "--port", "eighty"], cwd=tmp_path,
                         env=server.env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "'eighty' is not a port" in bad.stderr
    assert '"$@"' in (ROOT / "run").read_text()  # ./run --port 9000 reaches ecoach serve


def test_messages_pot_lists_every_message(tmp_path: Path) -> None:
    """The committed template is what scripts/extract-messages writes now."""
    out = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-c", "from babel.messages.frontend import main; main()", "--quiet", "extract",
                    "-F", "babel.cfg", "-k", "N_", "--no-location", "--sort-output", "--omit-header",
                    "-o", str(out), "."], cwd=ROOT, check=True, capture_output=True, timeout=120)
    committed = (ROOT / "ecoach/locale/messages.pot").read_text()
    assert committed == out.read_text(), "run scripts/extract-messages and commit ecoach/locale/messages.pot"
    assert len(re.findall(r"^msgid ", committed, flags=re.M)) > 800


async def test_the_coachs_preview_of_the_chat_page_posts_nothing(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    """The preview is built without the coachee's token: no form of the coachee's pages
    (scores, data request, action steps) is offered, and it never fails for want of one."""
    from tests.support import seed

    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    e = a["engagement_id"]
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, a["email"])
        preview = await client.get(f"/engagements/{e}/preview")
        page = await preview.text()
        assert preview.status == 200 and 'id="preview-banner"' in page
        assert 'action="/c/' not in page and a["chat_token"] not in page
        chat = await (await client.get(f"/c/{a['chat_token']}")).text()
        assert f'action="/c/{a["chat_token"]}/data"' in chat  # the coachee's own page still has its forms
