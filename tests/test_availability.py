"""Availability on both databases: the coach's settings pages (windows, exceptions, .ics
import, commitments; CSRF and isolation), the agreement on the coachee's chat page, the
absence auto-reply (once per engagement per absence, never to automatic mail) and the
report."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from babel.dates import format_date
from sqlalchemy import select, update

from ecoach.actions.agreement_texts import format_day, format_moment
from ecoach.actions.availability import ExceptionInput, do_add_exception
from ecoach.actions.mail_inbound import take_in_mail
from ecoach.logbook.availability_models import AvailabilityException, AvailabilityWindow, Commitment
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import MailSettings, Settings
from tests.support import app_client, csrf_of, login, seed, settings_for
from tests.conftest import fresh_keyring
from tests.moments import AMSTERDAM, at_local, local_now, next_weekday

UTC = timezone.utc


def calendar_file(clock, *, course_until: int = 13, holiday_cancelled: bool = False) -> bytes:  # type: ignore[no-untyped-def]
    """An .ics file relative to the clock (at START: Christmas, a course on 2 December): a
    three-day holiday four weeks ahead, a course next week (09:00 in Amsterdam, until
    ``course_until``), a weekly event (skipped) and one that ended long ago (skipped)."""
    today = local_now(clock).date()
    holiday, course = today + timedelta(days=29), today + timedelta(days=7)
    weekly = today + timedelta(days=6)
    cancelled = "\nSTATUS:CANCELLED" if holiday_cancelled else ""
    return f"""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:holiday-1@test{cancelled}
DTSTART;VALUE=DATE:{holiday:%Y%m%d}
DTEND;VALUE=DATE:{holiday + timedelta(days=3):%Y%m%d}
SUMMARY:Kerst
END:VEVENT
BEGIN:VEVENT
UID:course-2@test
DTSTART;TZID=Europe/Amsterdam:{course:%Y%m%d}T090000
DTEND;TZID=Europe/Amsterdam:{course:%Y%m%d}T{course_until:02d}0000
SUMMARY:Cursus
END:VEVENT
BEGIN:VEVENT
UID:weekly@test
DTSTART:{weekly:%Y%m%d}T090000Z
DTEND:{weekly:%Y%m%d}T100000Z
RRULE:FREQ=WEEKLY
END:VEVENT
BEGIN:VEVENT
UID:old@test
DTSTART;VALUE=DATE:{today.year - 1}0101
DTEND;VALUE=DATE:{today.year - 1}0102
END:VEVENT
END:VCALENDAR
""".replace("\n", "\r\n").encode()


async def rows(db_url: str, model, *where):  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            return list((await session.execute(select(model).where(*where).order_by(model.id))).scalars())
    finally:
        await engine.dispose()


async def execute(db_url: str, stmt) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(stmt)
    finally:
        await engine.dispose()


@pytest.fixture
async def coach_client(db_url, clock):  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", coachee="Anna", language="en")
    b = await seed(db_url, clock.now(), email="b@example.org", coachee="Bram")
    settings = settings_for(db_url)
    async with app_client(settings, clock) as client, app_client(settings, clock) as other:
        await login(client, a["email"])
        await login(other, b["email"])
        yield client, other, a, b


async def post(client, path: str, data: dict, **kw):  # type: ignore[no-untyped-def]
    token = await csrf_of(client, "/availability")
    return await client.post(path, data={"_csrf": token, **data}, allow_redirects=False, **kw)


async def test_the_coach_sets_windows_exceptions_and_commitments(coach_client, db_url) -> None:  # type: ignore[no-untyped-def]
    client, other, a, b = coach_client
    chat = {"channel": "chat", "weekday": ["1", "3"], "start": "19:00", "end": "21:00"}
    # Chat follows the general hours (40 a week): windows of its own would leave it 4. Asked first.
    asked = await post(client, "/availability/windows", chat)
    assert asked.status == 200 and "4.0 hours a week" in await asked.text()
    assert await rows(db_url, AvailabilityWindow, AvailabilityWindow.coach_id == a["coach_id"]) == []
    response = await post(client, "/availability/windows", {**chat, "mode": "own"})
    assert response.status == 303 and response.headers["Location"] == "/availability?saved=windows"
    page = await (await client.get("/availability?saved=windows")).text()
    assert "Tuesday 19:00–21:00" in page and "The windows are saved." in page
    windows = await rows(db_url, AvailabilityWindow, AvailabilityWindow.coach_id == a["coach_id"])
    assert [(w.channel, w.weekday, w.start_minute, w.end_minute) for w in windows] == [
        ("chat", 1, 1140, 1260), ("chat", 3, 1140, 1260)]

    bad = await post(client, "/availability/windows", {"channel": "chat", "start": "19:00", "end": "21:00"})
    assert bad.status == 400 and "Choose at least one day." in await bad.text()
    bad = await post(client, "/availability/windows", {"channel": "fax", "weekday": "1", "start": "9", "end": "x"})
    assert bad.status == 400
    # No CSRF token: refused, nothing stored.
    refused = await client.post("/availability/windows", data={"channel": "all", "weekday": "0", "start": "09:00",
                                                               "end": "17:00"}, allow_redirects=False)
    assert refused.status == 403
    # Another coach can neither see nor delete them.
    assert "19:00–21:00" not in await (await other.get("/availability")).text()
    assert (await post(other, f"/availability/windows/{windows[0].id}/delete", {})).status == 404
    assert (await post(client, f"/availability/windows/{windows[0].id}/delete", {})).status == 303
    assert len(await rows(db_url, AvailabilityWindow)) == 1

    response = await post(client, "/availability/exceptions", {
        "kind": "absence", "first_day": "2026-12-21", "last_day": "2026-12-31", "title": "Vakantie",
        "auto_reply": "on", "substitute": "Piet, piet@example.org"})
    assert response.status == 303
    [away] = await rows(db_url, AvailabilityException)
    assert (away.first_day, away.last_day, away.auto_reply) == (date(2026, 12, 21), date(2026, 12, 31), True)
    assert away.starts_at == datetime(2026, 12, 20, 23, tzinfo=UTC)
    bad = await post(client, "/availability/exceptions", {"kind": "absence", "first_day": "2026-12-21",
                                                          "last_day": "2026-12-01"})
    assert bad.status == 400
    assert (await post(other, f"/availability/exceptions/{away.id}/delete", {})).status == 404

    response = await post(client, "/availability/agreement", {
        "mail_amount": "1", "mail_unit": "days", "chat_amount": "2", "chat_unit": "hours",
        "remind_minutes": "30", "acknowledge": "on"})
    assert response.status == 303
    page = await (await client.get(f"/engagements/{a['engagement_id']}/agreement")).text()
    assert 'placeholder="2"' in page and 'placeholder="30"' in page
    assert (await other.get(f"/engagements/{a['engagement_id']}/agreement")).status == 404
    token = await csrf_of(client, f"/engagements/{a['engagement_id']}/agreement")
    response = await client.post(f"/engagements/{a['engagement_id']}/agreement", allow_redirects=False, data={
        "_csrf": token, "mail_amount": "", "chat_amount": "6", "chat_unit": "hours", "remind_minutes": "",
        "acknowledge": "off"})
    assert response.status == 303
    page = await (await client.get(f"/engagements/{a['engagement_id']}/agreement?saved=1")).text()
    assert 'value="6"' in page and "The commitments are saved." in page


@pytest.mark.awkward_clock
async def test_ics_import_is_idempotent_by_uid(coach_client, db_url, clock) -> None:  # type: ignore[no-untyped-def]
    client, other, a, _ = coach_client
    ics = calendar_file(clock)
    today = local_now(clock).date()

    async def upload(data: bytes):  # type: ignore[no-untyped-def]
        token = await csrf_of(client, "/availability")
        form = aiohttp.FormData({"_csrf": token, "kind": "holiday"})
        form.add_field("file", data, filename="away.ics", content_type="text/calendar")
        return await client.post("/availability/ics", data=form)

    response = await upload(ics)
    assert response.status == 200
    assert "Imported: 2 new, 0 changed, 0 unchanged, 0 removed, 2 skipped." in await response.text()
    assert "Imported: 0 new, 0 changed, 2 unchanged" in await (await upload(ics)).text()
    found = await rows(db_url, AvailabilityException)
    assert sorted((x.ics_uid, x.kind, x.first_day) for x in found) == [
        ("course-2@test", "holiday", None), ("holiday-1@test", "holiday", today + timedelta(days=29))]
    course = next(x for x in found if x.ics_uid == "course-2@test")
    course_day = today + timedelta(days=7)  # 09:00-13:00 in Amsterdam, in winter or summer time
    assert (course.starts_at, course.ends_at) == (at_local(course_day, 9), at_local(course_day, 13))
    moved = calendar_file(clock, course_until=15, holiday_cancelled=True)
    assert "0 new, 1 changed, 0 unchanged, 1 removed" in await (await upload(moved)).text()
    assert [x.ics_uid for x in await rows(db_url, AvailabilityException)] == ["course-2@test"]
    bad = await upload(b"not a calendar")
    assert bad.status == 400 and "not a calendar file" in await bad.text()


@pytest.mark.awkward_clock
async def test_the_chat_page_shows_the_agreement_in_the_coachees_zone(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    # The chat opens on Tuesdays 19:00-21:00 in Amsterdam; the coach is away from the
    # coming Tuesday to Friday (at START: 1-4 December).
    first_day = next_weekday(clock, 1, 0).astimezone(ZoneInfo(AMSTERDAM)).date()
    a = await seed(db_url, clock.now(), email="a@example.org", coachee="Anna", language="en")
    await execute(db_url, update(Engagement).where(Engagement.id == a["engagement_id"])
                  .values(time_zone="America/New_York"))
    engine = create_engine(db_url)
    async with session_factory(engine, None, fresh_keyring())() as session:
        session.add_all([AvailabilityWindow(coach_id=a["coach_id"], channel="chat", weekday=1, start_minute=19 * 60,
                                            end_minute=21 * 60)])
        coach = await session.get(Coach, a["coach_id"])
        await do_add_exception(session, coach, ExceptionInput("absence", first_day, first_day + timedelta(days=3)),
                               clock.now())
        await session.commit()
    await engine.dispose()
    async with app_client(settings_for(db_url), clock) as client:
        page = await (await client.get(f"/c/{a['chat_token']}")).text()
    # Tuesday 19:00-21:00 in Amsterdam is 13:00-15:00 in New York; the chat is closed now,
    # and on the coming Tuesday the coach is away, so back on the Tuesday after (at START:
    # "back Tuesday 8 December, 13:00").
    ny = "America/New_York"
    opens, closes = at_local(first_day, 19).astimezone(ZoneInfo(ny)), at_local(first_day, 21).astimezone(ZoneInfo(ny))
    assert f"{opens:%A %H:%M}–{closes:%H:%M}" in page
    back = at_local(first_day + timedelta(days=7), 19)
    assert f"back {format_moment(back, ny, 'en')}" in page
    # The absence (Tuesday-Friday in Amsterdam) begins on Monday evening in New York; mail
    # is answered again from Monday 09:00 in Amsterdam (at START: "away from Monday 30
    # November and back on Monday 7 December").
    away, returns = at_local(first_day, 0), at_local(first_day + timedelta(days=6), 9)
    assert format_day(away, ny, "en").startswith("Monday") and format_day(returns, ny, "en").startswith("Monday")
    assert f"away from {format_day(away, ny, 'en')} and back on {format_day(returns, ny, 'en')}" in page
    assert "Chat messages are answered within 4 working hours." in page
    assert 'id="chat-form"' in page  # messages are still accepted


def mail(sender: str, message_id: str, sent: datetime, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = f"Sanne <{sender}>"
    message["To"] = "coach@coach.test"
    message["Subject"] = "Mijn doel"
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(sent)
    for key, value in headers.items():
        message[key.replace("_", "-")] = value
    message.set_content("Hallo coach")
    return message.as_bytes()


@pytest.mark.awkward_clock
async def test_absence_reply_once_per_engagement_per_absence(db_url, clock, sessions, hub) -> None:  # type: ignore[no-untyped-def]
    # Away from today to the coming Friday, at least two days on (at START: Wednesday 25
    # to Friday 27 November), so back on the Monday after.
    today = local_now(clock).date()
    friday = today + timedelta(days=2 + (4 - today.weekday() - 2) % 7)
    a = await seed(db_url, clock.now(), email="a@example.org", coachee="Sanne", language="en",
                   coachee_email="sanne@example.org")
    settings = Settings(database_url=db_url, secret_key="test-secret-key",
                        mail=MailSettings(enabled=True, domain="coach.test", reply_local="coach"))
    async with sessions() as session:
        coach = await session.get(Coach, a["coach_id"])
        await do_add_exception(session, coach, ExceptionInput(
            "absence", today, friday, substitute="Piet (piet@example.org)",
            emergency_contact="06-12345678", return_note="Ik ben op cursus."), clock.now())
        await session.commit()

    async def take(sender: str, message_id: str, **headers: str) -> None:
        raw = mail(sender, message_id, clock.now(), **headers)
        await take_in_mail(sessions, raw, source="test", settings=settings, clock=clock)

    await take("sanne@example.org", "<m1@example.org>")
    await take("sanne@example.org", "<m2@example.org>")
    await take("sanne@example.org", "<m3@example.org>", Auto_Submitted="auto-replied")
    [reply] = await rows(db_url, MailOutbox, MailOutbox.kind == "absence_reply")
    parsed = message_from_bytes(reply.raw, policy=policy.default)
    body = parsed.get_body(("plain",)).get_content()
    assert reply.recipient == "sanne@example.org" and parsed["Auto-Submitted"] == "auto-replied"
    assert parsed["In-Reply-To"] == "<m1@example.org>" and parsed["Subject"] == "Automatic reply: Mijn doel"
    # Back on the Monday after (at START: Monday 30 November, the 27th being a Friday), with
    # the note and contacts.
    back = format_day(at_local(friday + timedelta(days=3), 9), AMSTERDAM, "en")
    assert back.startswith("Monday") and f"back on {back}" in body and "Ik ben op cursus." in body
    assert "Piet (piet@example.org)" in body and "06-12345678" in body
    # Always the coach's crisis resources (here the defaults for English-speaking coachees).
    assert "113 Suicide Prevention (113 Zelfmoordpreventie): 113, 0800-0113, https://www.113.nl" in body
    assert "+" in parsed["Reply-To"]  # the engagement's reply address
    # No commitment for the auto-submitted mail; the two real ones have one each.
    assert len(await rows(db_url, Commitment)) == 2

    clock.advance(days=10)  # back at work: no reply; a new absence (today and tomorrow): one new reply
    assert clock.now() > at_local(friday + timedelta(days=1), 0)
    await take("sanne@example.org", "<m4@example.org>")
    assert len(await rows(db_url, MailOutbox, MailOutbox.kind == "absence_reply")) == 1
    async with sessions() as session:
        coach = await session.get(Coach, a["coach_id"])
        await do_add_exception(session, coach, ExceptionInput("holiday", local_now(clock).date(),
                                                                  local_now(clock).date() + timedelta(days=1)),
                               clock.now())
        await session.commit()
    await take("sanne@example.org", "<m5@example.org>")
    await take("sanne@example.org", "<m6@example.org>", Precedence="bulk")
    assert len(await rows(db_url, MailOutbox, MailOutbox.kind == "absence_reply")) == 2


@pytest.mark.awkward_clock
async def test_report_shows_share_within_and_median(coach_client, db_url, clock) -> None:  # type: ignore[no-untyped-def]
    client, other, a, _ = coach_client
    # The month the first message came in, in the coach's zone (at START: November 2026; on
    # New Year's night January 2027, though it is still December in UTC).
    month = format_date(local_now(clock).date(), "LLLL y", locale="en")
    eid = a["engagement_id"]
    settings = settings_for(db_url)
    async with app_client(settings, clock) as coachee:
        await coachee.get(f"/c/{a['chat_token']}")
    engine = create_engine(db_url)
    sessions = session_factory(engine, None, fresh_keyring())
    from ecoach.actions.exchanges import NewExchange, record_exchanges

    async def record(direction: str, n: int) -> None:
        async with sessions() as session:
            await record_exchanges(session, [NewExchange(
                engagement_id=eid, channel="chat", direction=direction,
                author="coachee" if direction == "in" else "coach", author_name="x", text=f"m{n}",
                external_id=f"chat:report-{n}")], clock.now())
            await session.commit()

    await record("in", 1)
    clock.advance(hours=1)
    await record("out", 2)  # within 4 working hours: 1 hour
    await record("in", 3)
    clock.advance(days=2)
    await record("out", 4)  # late: 2 days
    await record("in", 5)  # still within its time
    await engine.dispose()
    page = await (await client.get("/report")).text()
    assert month in page and "50%" in page and "1 / 2" in page
    assert 'id="report-chart"' in page
    assert "Anna" in page and "Anna" not in await (await other.get("/report")).text()


async def test_the_pages_speak_dutch(coach_client) -> None:  # type: ignore[no-untyped-def]
    _, other, _, b = coach_client
    page = await (await other.get("/availability")).text()
    assert "Beschikbaarheid" in page and "Reactietijden" in page
    assert "Geen: maandag tot en met vrijdag, 09:00–17:00." in page
    page = await (await other.get(f"/engagements/{b['engagement_id']}/agreement")).text()
    assert "Afspraak met Bram" in page
