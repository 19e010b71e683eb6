"""The audit trail through the real pages, API and command line, on SQLite and PostgreSQL:
an entry for every kind of event, from where (the client address as the login code
computes it behind a trusted proxy, and the device), never any content; the chain stays
valid; a coach sees only their own trail, an administrator the practice's."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from unittest.mock import ANY
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import select

from ecoach.actions.coaches import do_create_api_token
from ecoach.actions.unit import unit_of_work
from ecoach.app import build_app
from ecoach.core.audit import GROUP_LABELS, GROUP_OF, GROUPS, KIND_LABELS, KINDS
from ecoach.core.nudge_rules import make_pause_token
from ecoach.logbook.audit_chain import verify_chain
from ecoach.logbook.mail_models import Attachment
from tests.account_support import code, code_step, link_in, password_step, setup_2fa
from tests.audit_support import entries, run_cli
from tests.dovecot import wait_until
from tests.mail_support import build_mail, make_world, reply_to, take
from tests.moments import local_now
from tests.test_nudges_web import plan_form
from tests.smtp_relay import smtp_relay  # noqa: F401 - the fixture
from tests.support import PASSWORD, csrf_of, login, mentions, seed, settings_for

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Safari/604.1"


@asynccontextmanager
async def browser_at(settings, clock, address: str, agent: str = FIREFOX) -> AsyncIterator[TestClient]:  # type: ignore[no-untyped-def]
    """A client behind the trusted proxy on this machine (the default trusted_proxies):
    the proxy says the client is ``address``."""
    client = TestClient(TestServer(build_app(settings, clock=clock)),
                        headers={"X-Forwarded-For": f"198.51.100.99, {address}", "User-Agent": agent})
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def chain_ok(sessions) -> int:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        verdict = await verify_chain(session)
    assert verdict.ok, verdict
    return verdict.checked


async def post(client, path: str, data: dict | None = None, page: str = "/account"):  # type: ignore[no-untyped-def]
    return await client.post(path, data={"_csrf": await csrf_of(client, page), **(data or {})}, allow_redirects=False)


async def test_logins_password_and_two_factor(db_url, sessions, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    settings = settings_for(db_url)
    async with browser_at(settings, clock, "203.0.113.9") as client:
        assert (await password_step(client, "a@example.org", "not the password")).status == 400
        assert (await password_step(client, "nobody@example.org", "not the password")).status == 400
        await login(client, a["email"])
        wrong = await post(client, "/account/password", {"current": "wrong wrong wrong", "new": "x" * 14, "repeat": "x" * 14})
        assert wrong.status == 400
        new = "a brand new sentence 2026"
        assert (await post(client, "/account/password", {"current": PASSWORD, "new": new, "repeat": new})).status == 303
        secret, _codes = await setup_2fa(client, clock.now())
        await client.post("/account/2fa/recovery-codes", data={"_csrf": await csrf_of(client, "/account")})
        await client.post("/logout", data={"_csrf": await csrf_of(client, "/account")})
        assert (await password_step(client, a["email"], new)).status == 303
        assert (await code_step(client, "000000")).status == 400
        clock.advance(seconds=30)
        assert (await code_step(client, code(secret, clock.now()))).status == 303
        assert (await post(client, "/account/2fa/disable", {"password": new})).status == 303
    mine = await entries(sessions, coach_id=a["coach_id"])
    assert [(e.kind, e.detail.get("step") or e.detail.get("method") or e.detail.get("reason")) for e in mine] == [
        ("coach_added", None), ("chat_link_created", None), ("api_token_created", None),  # the seed
        ("login_failed", "password"), ("login", "password"), ("login_failed", "reauth"),
        ("session_ended", "password_changed"), ("password_changed", None), ("login", "renewed"),
        ("session_ended", "2fa_enabled"), ("two_factor_enabled", None), ("login", "renewed"),
        ("recovery_codes_renewed", None), ("session_ended", "logout"),
        ("login_failed", "second_factor"), ("login", "totp"),
        ("session_ended", "2fa_disabled"), ("two_factor_disabled", None), ("login", "renewed"),
    ]
    web = [e for e in mine if e.via == "web"]
    assert {(e.client, e.device) for e in web} == {("203.0.113.9", "Firefox / Linux")}
    assert {e.actor_id for e in web if e.kind == "login_failed" and e.detail["step"] != "reauth"} == {None}
    [unknown] = [e for e in await entries(sessions, kind="login_failed") if e.coach_id is None]
    assert unknown.actor_id is None and unknown.detail == {"step": "password"}  # the address tried is not kept
    assert await chain_ok(sessions) == len(await entries(sessions))


async def test_views_searches_and_tokens(db_url, sessions, hub, clock) -> None:  # type: ignore[no-untyped-def]
    world = await make_world(sessions, clock, db_url, second_coach=True)
    mail = await take(world, sessions, hub, clock, build_mail(
        text="Het zeldzaamwoord kwam terug", attachments=(("verslag.pdf", "application/pdf", b"%PDF-1.4"),)))
    held = await take(world, sessions, hub, clock, build_mail(sender="partner@else.test", to=reply_to(world.engagement_id),
                                                               text="Namens Sanne"))
    async with sessions() as session:
        attachment = (await session.execute(select(Attachment))).scalars().one()
    async with unit_of_work(sessions) as session:
        api_token = await do_create_api_token(session, world.coach_id, "script", clock.now(), scope="read")
    eid, xid = world.engagement_id, mail.recorded.exchange.id
    async with browser_at(world.settings, clock, "2001:db8::5", SAFARI) as client:
        await login(client, world.coach_email)
        assert (await client.get(f"/engagements/{eid}")).status == 200
        assert (await client.get(f"/engagements/{eid}/exchanges/{xid}/original")).status == 200
        assert (await client.get(f"/engagements/{eid}/attachments/{attachment.id}")).status == 200
        assert (await client.get("/quarantine")).status == 200
        assert (await client.get(f"/quarantine/{held.quarantine.id}/original")).status == 200
        assert "zeldzaamwoord" in await (await client.get("/search?q=zeldzaamwoord")).text()
        await post(client, f"/engagements/{eid}/chat-link", page="/")
        await post(client, f"/engagements/{eid}/chat-link/revoke", page="/")
        await post(client, f"/engagements/{eid}/booking-link", page="/")
        await post(client, "/sessions/feed", page="/")
        await post(client, "/sessions/public-link", page="/")
        created = await post(client, "/account/tokens", {"name": "laptop script", "scope": "read"})
        assert created.status == 200
        bearer = {"Authorization": f"Bearer {api_token}"}
        assert (await client.get(f"/api/v1/engagements/{eid}", headers=bearer)).status == 200
        assert (await client.get(f"/api/v1/engagements/{eid}/exchanges", headers=bearer)).status == 200
        found = await client.get("/api/v1/search?q=zeldzaamwoord+sanne", headers=bearer)
        assert found.status == 200
        token_id = int(re.findall(r'/account/tokens/(\d+)/revoke', await (await client.get("/account")).text())[0])
        await post(client, f"/account/tokens/{token_id}/revoke")
    trail = [e for e in await entries(sessions, coach_id=world.coach_id) if e.via != "system"]
    assert [(e.kind, e.via, e.engagement_id) for e in trail if e.kind != "login"] == [
        ("engagement_viewed", "web", eid), ("original_viewed", "web", eid), ("attachment_viewed", "web", eid),
        ("quarantine_viewed", "web", None), ("quarantine_original_viewed", "web", eid), ("search", "web", None),
        ("chat_link_created", "web", eid), ("chat_link_revoked", "web", eid), ("booking_link_created", "web", eid),
        ("calendar_feed_created", "web", None), ("booking_link_created", "web", None),
        ("api_token_created", "web", None),
        ("engagement_viewed", "api", eid), ("timeline_viewed", "api", eid), ("search", "api", None),
        ("api_token_revoked", "web", None),
    ]
    searches = [e for e in trail if e.kind == "search"]
    assert [e.detail for e in searches] == [{"results": 1}, {"results": 0}]  # how many, never the words
    assert {(e.client, e.device, e.actor_id) for e in trail} == {("2001:db8::5", "Safari / iPhone", world.coach_id)}
    await no_content_in_the_trail(sessions, ["zeldzaamwoord", "Sanne", "sanne@", "partner@", "verslag", "laptop script",
                                             "Marieke", "Namens", "PDF"])
    await chain_ok(sessions)


async def no_content_in_the_trail(sessions, markers: list[str]) -> None:  # type: ignore[no-untyped-def]
    for entry in await entries(sessions):
        row = repr({c: getattr(entry, c) for c in ("kind", "detail", "via", "client", "device")}).lower()
        for marker in markers:
            assert marker.lower() not in row, (marker, row)


async def test_agreements_and_nudges(db_url, sessions, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")
    eid = a["engagement_id"]
    settings = settings_for(db_url, public_url="http://coach.test")
    async with browser_at(settings, clock, "192.0.2.10") as client:
        await login(client, a["email"])
        await post(client, "/availability/windows", {"channel": "chat", "weekday": ["1", "3"], "start": "19:00",
                                                     "end": "21:00", "mode": "own"}, page="/availability")
        window = re.findall(r'/availability/windows/(\d+)/delete', await (await client.get("/availability")).text())[0]
        await post(client, f"/availability/windows/{window}/delete", page="/availability")
        await post(client, "/availability/exceptions", {"kind": "absence", "first_day": "2026-12-21",
                                                        "last_day": "2026-12-31", "title": "Vakantie Texel"},
                   page="/availability")
        await post(client, "/availability/agreement", {"mail_amount": "1", "mail_unit": "days", "chat_amount": "2",
                                                       "chat_unit": "hours", "remind_minutes": "30"}, page="/availability")
        await post(client, f"/engagements/{eid}/agreement", {"chat_amount": "6", "chat_unit": "hours"}, page="/availability")
        csrf = await csrf_of(client, f"/engagements/{eid}/nudges/plan")
        await client.post(f"/engagements/{eid}/nudges/plan", data=plan_form(csrf), allow_redirects=False)
        form = {"name": "Intake Texel", "channel": "video", "address": "", "duration_minutes": "45",
                "buffer_before_minutes": "0", "buffer_after_minutes": "15", "min_notice_minutes": "60",
                "max_per_day": "2", "horizon_days": "30", "availability": "sessions"}
        assert (await post(client, "/sessions/types", form, page="/sessions")).status == 303
        type_id = re.findall(r'/sessions/types/(\d+)/active', await (await client.get("/sessions")).text())[0]
        await post(client, f"/sessions/types/{type_id}/active", {"active": "0"}, page="/sessions")
        await post(client, "/sessions/profile", {"video_provider": "personal",
                                                 "personal_room_url": "https://zoom.example/j/1"}, page="/sessions")
    token = make_pause_token("test-secret-key", eid, clock.now())
    async with browser_at(settings, clock, "192.0.2.77", SAFARI) as coachee:
        for action in ("pause", "resume"):
            response = await coachee.post(f"/n/{token}", data={"_csrf": await csrf_of(coachee, f"/n/{token}"),
                                                               "action": action}, allow_redirects=False)
            assert response.status == 303
    trail = [e for e in await entries(sessions, coach_id=a["coach_id"]) if e.via == "web" and e.kind != "login"]
    assert [(e.kind, e.engagement_id) for e in trail] == [
        ("availability_changed", None), ("availability_changed", None), ("absence_changed", None),
        ("commitments_changed", None), ("commitments_changed", eid), ("nudge_plan_changed", eid),
        ("session_type_changed", None), ("session_type_changed", None), ("booking_profile_changed", None),
        ("nudges_paused", eid), ("nudges_resumed", eid),
    ]
    assert [e.actor_id for e in trail[-2:]] == [None, None] and trail[-1].client == "192.0.2.77"  # the coachee
    assert {e.actor_id for e in trail[:-2]} == {a["coach_id"]}
    await no_content_in_the_trail(sessions, ["Texel", "zoom", "rust"])
    await chain_ok(sessions)


async def test_administration_in_the_browser_and_on_the_command_line(db_url, sessions, clock,  # type: ignore[no-untyped-def]
                                                                    monkeypatch, capsys) -> None:
    admin = await seed(db_url, clock.now(), email="admin@example.org", language="en")
    other = await seed(db_url, clock.now(), email="joost@example.org")
    settings = settings_for(db_url)
    async with browser_at(settings, clock, "192.0.2.1") as client:
        await login(client, admin["email"])
        page = "/admin/coaches"
        invited = await post(client, page, {"name": "Nieuwe Coach", "email": "nieuw@example.org", "language": "nl"}, page=page)
        assert invited.status == 200
        await post(client, f"{page}/{other['coach_id']}/role", {"role": "admin"}, page=page)
        await post(client, f"{page}/{other['coach_id']}/deactivate", page=page)
        await post(client, f"{page}/{other['coach_id']}/hand-over", {"to": str(admin["coach_id"])}, page=page)
        await post(client, f"{page}/{other['coach_id']}/reactivate", page=page)
    for command in (("coach", "deactivate", "--email", other["email"]), ("coach", "reset-2fa", "--email", other["email"]),
                    ("coach", "token", "--email", other["email"]), ("coach", "reactivate", "--email", other["email"])):
        assert (await run_cli(monkeypatch, capsys, db_url, *command))[0] == 0
    joost = [e for e in await entries(sessions, coach_id=other["coach_id"]) if e.via != "system"]
    assert [(e.kind, e.via, e.actor_id) for e in joost] == [
        ("role_changed", "web", admin["coach_id"]), ("coach_deactivated", "web", admin["coach_id"]),
        ("engagements_handed_over", "web", admin["coach_id"]), ("coach_reactivated", "web", admin["coach_id"]),
        ("coach_deactivated", "cli", None), ("two_factor_disabled", "cli", None),
        ("api_token_created", "cli", None), ("coach_reactivated", "cli", None),
    ]
    assert joost[2].detail == {"moved": 1, "to_coach": admin["coach_id"]}
    new_coach = [e.kind for e in await entries(sessions) if e.kind in ("coach_added", "coach_invited")][-2:]
    assert new_coach == ["coach_added", "coach_invited"]
    await no_content_in_the_trail(sessions, ["Nieuwe", "nieuw@", "joost@"])
    await chain_ok(sessions)


async def test_a_coach_sees_only_their_own_trail(db_url, sessions, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org", language="en")  # the first coach: administrator
    b = await seed(db_url, clock.now(), email="b@example.org", language="en", coachee="Pim")
    settings = settings_for(db_url)
    async with browser_at(settings, clock, "192.0.2.50") as anna, browser_at(settings, clock, "198.51.100.7") as bert:
        await login(anna, a["email"])
        await login(bert, b["email"])
        await bert.get(f"/engagements/{b['engagement_id']}")
        await bert.get("/search?q=pim")
        assert (await password_step(anna, b["email"], "guessing wrongly")).status == 400  # at Bert's account
        bert_page = await (await bert.get("/audit")).text()
        assert "198.51.100.7" in bert_page and "Opened an engagement" in bert_page and "Pim" in bert_page
        assert "192.0.2.50" in bert_page  # the failed login at his account, from Anna's address
        assert (await bert.get("/admin/audit")).status == 403
        anna_page = await (await anna.get("/audit")).text()
        assert "198.51.100.7" not in anna_page and not mentions(anna_page, "Pim") and "Searched" not in anna_page
        practice = await (await anna.get("/admin/audit")).text()
        assert "198.51.100.7" in practice and "Searched the logbook" in practice
        assert not mentions(practice, "Pim")  # an administrator sees who and what, never another coach's coachees
        own = {int(s) for s in re.findall(r'id="a(\d+)"', anna_page)}
        others = {e.seq for e in await entries(sessions, coach_id=b["coach_id"])}
        assert own and not own & others


@pytest.mark.awkward_clock
async def test_the_trail_page_filters_and_pages(db_url, sessions, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="a@example.org")  # Dutch
    settings = settings_for(db_url)
    async with browser_at(settings, clock, "192.0.2.50") as client:
        await login(client, a["email"])
        for _ in range(55):
            await client.get(f"/engagements/{a['engagement_id']}")
        clock.advance(days=3)
        await client.get("/search?q=iets")
        page = await (await client.get("/audit")).text()
        assert len(re.findall(r'id="a\d+"', page)) == 50
        assert "In het logboek gezocht" in page and "Traject geopend" in page  # Dutch labels
        older = re.search(r'href="(\?[^"]*before=\d+)"', page)
        assert older
        rest = await (await client.get("/audit" + older.group(1).replace("&amp;", "&"))).text()
        seen = set(re.findall(r'id="a(\d+)"', page)) | set(re.findall(r'id="a(\d+)"', rest))
        assert len(seen) == len(await entries(sessions, coach_id=a["coach_id"]))
        searches = await (await client.get("/audit?kind=search")).text()
        assert len(re.findall(r'data-kind="search"', searches)) == 1 and 'data-kind="engagement_viewed"' not in searches
        day = local_now(clock).date().isoformat()  # the coach's day, in Amsterdam
        today = await (await client.get(f"/audit?from={day}&to={day}")).text()
        assert re.findall(r'data-kind="(\w+)"', today) == ["search"]
        earlier = (local_now(clock) - timedelta(days=3)).date().isoformat()
        before = await (await client.get(f"/audit?to={earlier}&kind=view")).text()
        assert len(re.findall(r'data-kind="engagement_viewed"', before)) == 50
        bad = await client.get("/audit?from=gisteren")
        assert bad.status == 400 and "2026-12-24" in await bad.text()
        for query in (f"from={day}&to={earlier}", "to=9999-12-31", "from=0001-01-01", "before=x&kind=nonsense"):
            response = await client.get(f"/audit?{query}")
            assert response.status == (200 if query.startswith("before") else 400), query


def test_every_kind_has_a_group_and_a_label() -> None:
    assert set(KIND_LABELS) == KINDS and set(GROUP_OF) == KINDS and set(GROUP_LABELS) == set(GROUPS)


async def test_reset_invitation_and_planned_nudges(db_url, sessions, clock, smtp_relay) -> None:  # type: ignore[no-untyped-def]
    admin = await seed(db_url, clock.now(), email="admin@example.org", language="en")
    eid = admin["engagement_id"]
    settings = settings_for(db_url, mail={"enabled": True, "domain": "coaching.test", "smtp_host": smtp_relay.host,
                                          "smtp_port": smtp_relay.port})
    async with browser_at(settings, clock, "192.0.2.30") as visitor, browser_at(settings, clock, "192.0.2.31") as client:
        await visitor.post("/password/forgot", data={"_csrf": await csrf_of(visitor, "/password/forgot"),
                                                     "email": admin["email"]})
        await wait_until(lambda: smtp_relay.messages)
        path = urlsplit(link_in(smtp_relay.messages[0].raw)).path
        new = "a brand new sentence 2026"
        done = await visitor.post(path, allow_redirects=False, data={"_csrf": await csrf_of(visitor, path), "new": new,
                                                                     "repeat": new})
        assert done.status == 303
        await login(client, admin["email"], new)
        await post(client, "/admin/coaches", {"name": "Nieuwe Coach", "email": "nieuw@example.org", "language": "nl"},
                   page="/admin/coaches")
        await wait_until(lambda: len(smtp_relay.messages) == 2)
        invite = urlsplit(link_in(smtp_relay.messages[1].raw)).path
        chosen = await visitor.post(invite, allow_redirects=False, data={"_csrf": await csrf_of(visitor, invite),
                                                                        "new": new, "repeat": new})
        assert chosen.status == 303
        csrf = await csrf_of(client, f"/engagements/{eid}/nudges/plan")
        await client.post(f"/engagements/{eid}/nudges/plan", data=plan_form(csrf), allow_redirects=False)
        first, second = re.findall(r'data-nudge="(\d+)"', await (await client.get(f"/engagements/{eid}")).text())[:2]
        await post(client, f"/engagements/{eid}/nudges/{first}/edit", {"text": "Hoe gaat het met de stap?"}, page="/")
        await post(client, f"/engagements/{eid}/nudges/{second}/skip", page="/")
    mine = [(e.kind, e.actor_id, e.client, e.detail) for e in await entries(sessions, coach_id=admin["coach_id"])
            if e.via == "web" and e.kind in ("reset_link_requested", "password_reset", "nudge_changed")]
    assert mine == [
        ("reset_link_requested", None, "192.0.2.30", {}),
        ("password_reset", admin["coach_id"], "192.0.2.30", {"link": "reset"}),
        ("nudge_changed", admin["coach_id"], "192.0.2.31", {"nudge": int(first), "change": "edited"}),
        ("nudge_changed", admin["coach_id"], "192.0.2.31", {"nudge": int(second), "change": "skipped"}),
    ]
    [newcomer] = [e.coach_id for e in await entries(sessions, kind="coach_invited")]
    assert [(e.kind, e.detail) for e in await entries(sessions, coach_id=newcomer) if e.via == "web"] == [
        ("coach_added", {"role": "coach", "invited": True}), ("coach_invited", {}),
        ("password_reset", {"link": "invite"}), ("login", {"method": "invite", "session": ANY})]
    await no_content_in_the_trail(sessions, ["Hoe gaat", "Nieuwe", "nieuw@"])
    await chain_ok(sessions)


async def test_held_mail_handed_to_a_coach_on_the_command_line(db_url, sessions, hub, clock,  # type: ignore[no-untyped-def]
                                                              monkeypatch, capsys) -> None:
    world = await make_world(sessions, clock, db_url)
    held = await take(world, sessions, hub, clock, build_mail(sender="stranger@example.test", subject="Intake?"))
    given = await run_cli(monkeypatch, capsys, db_url, "quarantine", "give", str(held.quarantine.id),
                          "--coach", world.coach_email)
    assert given[0] == 0
    [entry] = await entries(sessions, kind="quarantine_handed")
    assert (entry.coach_id, entry.actor_id, entry.via, entry.detail) == (world.coach_id, None, "cli",
                                                                         {"held": held.quarantine.id})
    await chain_ok(sessions)
