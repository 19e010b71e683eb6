"""Coaching groups, in-process on both databases: a group of three coachees with one shared
conversation, live to every member's and the coach's open page; one-to-one timelines stay
private; a removed member is cut off at once (open socket too); a nudge and a session for
everyone at once; a coach outside sees nothing; erasing a member removes their group
messages (and nothing readable of the group is in the database)."""

from __future__ import annotations

import re

from sqlalchemy import select, text

from ecoach.actions.erasure import do_erase_engagement
from ecoach.actions.session_types import check_session_type, do_save_session_type
from ecoach.logbook import queries
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.group_models import GroupMessage
from ecoach.logbook.models import Engagement, Exchange
from tests.booking_support import TYPE_FORM, add_windows
from tests.conftest import fresh_keyring
from tests.group_support import add_engagement, group_id_of, post, receive_until, same_server
from tests.support import app_client, login, seed, settings_for


async def _db(db_url: str, work):  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            result = await work(session)
            await session.commit()
            return result
    finally:
        await engine.dispose()


async def _session_type(db_url: str, coach_id: int, now) -> int:  # type: ignore[no-untyped-def]
    """The coach's session type, bookable mon-fri 09:00-12:00; its id."""
    async def work(session):  # type: ignore[no-untyped-def]
        coach = await queries.get_coach(session, coach_id)
        await add_windows(session, coach.id, "mon-fri 09:00-12:00")
        return (await do_save_session_type(session, coach, check_session_type(TYPE_FORM), type_id=None, now=now)).id

    return await _db(db_url, work)


async def _group_of_three(db_url: str, clock, owner):  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="marieke@example.org", coachee="Sanne", language="en")
    members = [a] + [await add_engagement(db_url, clock.now(), a["email"], name) for name in ("Ahmed", "Noor")]
    await login(owner, a["email"])
    made = await post(owner, "/groups", "/groups", name="Leiderschap voorjaar", language="nl")
    assert made.status == 303
    gid = group_id_of(made.headers["Location"])
    for m in members:
        added = await post(owner, f"/groups/{gid}/members", f"/groups/{gid}", engagement_id=str(m["engagement_id"]))
        assert added.status == 303
    return a, members, gid


async def _quiet(ws) -> None:  # type: ignore[no-untyped-def]
    """Nothing but the pong: no frame was queued before it."""
    await ws.send_json({"type": "ping"})
    assert (await ws.receive_json(timeout=10))["type"] == "pong"


async def test_group_conversation_is_shared_and_one_to_one_stays_private(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as owner, same_server(owner) as browser, \
            same_server(owner) as outsider:
        a, members, gid = await _group_of_three(db_url, clock, owner)
        other = await seed(db_url, clock.now(), email="outside@example.org", coachee="Kim")
        tokens = [m["chat_token"] for m in members]
        # Each member's chat page links to the group; the group page is theirs to read.
        chat = await (await browser.get(f"/c/{tokens[1]}")).text()
        assert f"/c/{tokens[1]}/groups/{gid}" in chat
        sockets = [await browser.ws_connect(f"/c/{t}/groups/{gid}/ws") for t in tokens]
        coach_ws = await owner.ws_connect(f"/groups/{gid}/ws")
        await sockets[0].send_json({"type": "message", "client_id": "sanne-msg-1", "text": "Wie heeft tips?"})
        ack = await receive_until(sockets[0], lambda f: f["type"] == "ack")
        assert ack["exchange"]["shape"] == "from-me" and "member" not in ack["exchange"]
        for ws in (sockets[1], sockets[2], coach_ws):
            pushed = await receive_until(ws, lambda f: f["type"] == "exchange")
            assert pushed["exchange"]["text"] == "Wie heeft tips?" and pushed["exchange"]["author_name"] == "Sanne"
            assert pushed["exchange"]["shape"] == "from-them"
        # A resend (the same client id) is stored once.
        await sockets[0].send_json({"type": "message", "client_id": "sanne-msg-1", "text": "Wie heeft tips?"})
        assert (await receive_until(sockets[0], lambda f: f["type"] == "ack"))["duplicate"] is True
        await coach_ws.send_json({"type": "message", "client_id": "coach-msg-1", "text": "Goede vraag!"})
        assert (await receive_until(coach_ws, lambda f: f["type"] == "ack"))["exchange"]["shape"] == "from-me"
        for ws in sockets:
            assert (await receive_until(ws, lambda f: f["type"] == "exchange"))["exchange"]["text"] == "Goede vraag!"

        # One-to-one: Ahmed writes his coach privately; no group page of anyone gets it.
        private = await browser.ws_connect(f"/c/{tokens[1]}/ws")
        await private.send_json({"type": "message", "client_id": "ahmed-private-1", "text": "Alleen voor jou"})
        await receive_until(private, lambda f: f["type"] == "ack")
        for ws in sockets:
            await _quiet(ws)
        for token in tokens:
            assert "Alleen voor jou" not in await (await browser.get(f"/c/{token}/groups/{gid}")).text()
        assert "Alleen voor jou" not in await (await browser.get(f"/c/{tokens[0]}")).text()
        history = await _sync(sockets[0])
        assert [x["text"] for x in history] == ["Wie heeft tips?", "Goede vraag!"]

        # Not a member: another coach's coachee, or a coach outside.
        assert (await browser.get(f"/c/{other['chat_token']}/groups/{gid}")).status == 404
        refused = await browser.ws_connect(f"/c/{other['chat_token']}/groups/{gid}/ws")
        assert (await refused.receive_json(timeout=10))["code"] == "group_member_removed"
        await login(outsider, other["email"])
        assert (await outsider.get(f"/groups/{gid}")).status == 404
        outside_ws = await outsider.ws_connect(f"/groups/{gid}/ws")
        assert (await outside_ws.receive_json(timeout=10))["code"] == "group_unknown"

        # Removed: Noor's open group page closes now; her own chat stays.
        removed = await post(owner, f"/groups/{gid}/members/{members[2]['engagement_id']}/remove", f"/groups/{gid}")
        assert removed.status == 303
        closing = await receive_until(sockets[2], lambda f: f["type"] == "error")
        assert closing["code"] == "group_member_removed" and closing["fatal"]
        assert (await browser.get(f"/c/{tokens[2]}/groups/{gid}")).status == 404
        assert (await browser.get(f"/c/{tokens[2]}")).status == 200
        for ws in (*sockets, coach_ws, private, refused, outside_ws):
            await ws.close()


async def _sync(ws) -> list[dict]:  # type: ignore[type-arg,no-untyped-def]
    await ws.send_json({"type": "sync", "after": 0})
    return (await receive_until(ws, lambda f: f["type"] == "history"))["exchanges"]


async def test_group_nudge_and_session_reach_everyone(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as owner, same_server(owner) as browser:
        a, members, gid = await _group_of_three(db_url, clock, owner)
        type_id = await _session_type(db_url, a["coach_id"], clock.now())
        nudged = await post(owner, f"/groups/{gid}/nudge", f"/groups/{gid}", text="Welke stap zet je deze week?",
                            client_id="group-nudge-0001")
        assert nudged.status == 303
        page = await (await owner.get(f"/groups/{gid}?type={type_id}")).text()
        start = re.search(r'name="start"><option value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        booked = await post(owner, f"/groups/{gid}/sessions", f"/groups/{gid}", type_id=str(type_id), start=start)
        assert booked.status == 303, await booked.text()
        again = await post(owner, f"/groups/{gid}/sessions", f"/groups/{gid}", type_id=str(type_id), start=start)
        assert again.status == 409  # one slot in the agenda: taken now

        async def timelines(session):  # type: ignore[no-untyped-def]
            rows = (await session.execute(select(Exchange.engagement_id, Exchange.channel, Exchange.body_text)
                                          .order_by(Exchange.id))).all()
            return rows

        rows = await _db(db_url, timelines)
        for m in members:
            mine = [r for r in rows if r[0] == m["engagement_id"]]
            assert any(r[2] == "Welke stap zet je deze week?" for r in mine)
            assert any(r[1] == "video" for r in mine)  # the group session, with its meeting link
        meeting = await _db(db_url, lambda session: session.scalar(select(Booking.meeting_url)))
        member_page = await (await browser.get(f"/c/{members[1]['chat_token']}/groups/{gid}")).text()
        assert "Welke stap zet je deze week?" in member_page and meeting in member_page


async def test_erasing_a_member_removes_their_group_messages(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as owner, same_server(owner) as browser:
        a, members, gid = await _group_of_three(db_url, clock, owner)
        for n, m in enumerate(members[:2]):
            ws = await browser.ws_connect(f"/c/{m['chat_token']}/groups/{gid}/ws")
            await ws.send_json({"type": "message", "client_id": f"member-msg-{n}", "text": f"Geheimpje{n}"})
            await receive_until(ws, lambda f: f["type"] == "ack")
            await ws.close()
    erased = members[0]["engagement_id"]

    async def erase(session):  # type: ignore[no-untyped-def]
        engagement = await session.get(Engagement, erased)
        await do_erase_engagement(session, engagement, by="coach", coach_id=a["coach_id"], now=clock.now())

    await _db(db_url, erase)

    async def left(session):  # type: ignore[no-untyped-def]
        return [(m.engagement_id, m.body_text) for m in (await session.execute(
            select(GroupMessage).where(GroupMessage.group_id == gid))).scalars()]

    assert await _db(db_url, left) == [(members[1]["engagement_id"], "Geheimpje1")]
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            raw = b"".join(bytes(r[0]) for r in await conn.execute(text(
                "SELECT body_text FROM group_message UNION ALL SELECT name FROM coaching_group")))
    finally:
        await engine.dispose()
    assert b"Geheimpje" not in raw and b"Leiderschap" not in raw
