"""Co-coaches and supervisors, in-process on both databases: a co-coach reads and answers
(the coachee sees their name), loses access at once when removed (pages and an open
socket), never erases; a supervisor reads only what was shared (never private notes), each
read in the audit trail; a coach outside sees nothing."""

from __future__ import annotations

from sqlalchemy import select

from ecoach.logbook.audit_models import AuditEntry
from ecoach.logbook.db import create_engine, session_factory
from tests.conftest import fresh_keyring
from tests.group_support import post, receive_until, same_server
from tests.support import app_client, csrf_of, login, mentions, seed, settings_for


async def _audit_kinds(db_url: str) -> list[tuple[str, int | None, int | None]]:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            rows = (await session.execute(select(AuditEntry.kind, AuditEntry.actor_id, AuditEntry.engagement_id)
                                          .order_by(AuditEntry.seq))).all()
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        await engine.dispose()


async def test_co_coach_answers_and_is_removed_at_once(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="marieke@example.org", coachee="Sanne", language="en")
    b = await seed(db_url, clock.now(), email="jan@example.org", coachee="Ahmed", language="en")
    c = await seed(db_url, clock.now(), email="outside@example.org", coachee="Noor", language="en")
    eid = a["engagement_id"]
    async with app_client(settings_for(db_url), clock) as owner, same_server(owner) as co, \
            same_server(owner) as outsider, same_server(owner) as coachee:
        await login(owner, a["email"])
        await login(co, b["email"])
        await login(outsider, c["email"])
        assert (await co.get(f"/engagements/{eid}")).status == 404
        unknown = await post(owner, f"/engagements/{eid}/team", f"/engagements/{eid}", email="nobody@x.org",
                             role="co_coach")
        assert unknown.status == 400 and "no coach with this e-mail" in await unknown.text()
        added = await post(owner, f"/engagements/{eid}/team", f"/engagements/{eid}", email=b["email"], role="co_coach")
        assert added.status == 303
        again = await post(owner, f"/engagements/{eid}/team", f"/engagements/{eid}", email=b["email"], role="co_coach")
        assert again.status == 409

        # Full access: the co-coach's inbox, the engagement page, an answer by chat.
        assert f'/engagements/{eid}"' in await (await co.get("/")).text()
        page = await co.get(f"/engagements/{eid}")
        assert page.status == 200 and "Coach marieke@example.org" in await page.text()
        ws = await co.ws_connect("/ws")
        await ws.send_json({"type": "sync", "engagement_id": eid, "after": 0})
        assert (await receive_until(ws, lambda f: f["type"] == "history"))["engagement_id"] == eid
        await ws.send_json({"type": "message", "engagement_id": eid, "client_id": "cocoach-1", "text": "Hallo van Jan"})
        ack = await receive_until(ws, lambda f: f["type"] in ("ack", "error"))
        assert ack["type"] == "ack" and ack["exchange"]["author_name"] == "Coach jan@example.org"
        chat = await (await coachee.get(f"/c/{a['chat_token']}")).text()
        assert "Hallo van Jan" in chat and "Coach marieke@example.org, Coach jan@example.org" in chat

        # The owner's other business stays the owner's: erasure, the team, other engagements.
        assert (await co.get(f"/engagements/{eid}/erase")).status == 404
        assert (await co.get(f"/engagements/{c['engagement_id']}")).status == 404
        # A message the coachee writes reaches the co-coach's open socket.
        cws = await coachee.ws_connect(f"/c/{a['chat_token']}/ws")
        await cws.send_json({"type": "message", "client_id": "coachee-1", "text": "Dank je"})
        pushed = await receive_until(ws, lambda f: f["type"] == "exchange")
        assert pushed["exchange"]["text"] == "Dank je" and pushed["engagement_id"] == eid
        # A coach outside sees nothing of it.
        assert (await outsider.get(f"/engagements/{eid}")).status == 404
        assert f'/engagements/{eid}"' not in await (await outsider.get("/")).text()
        assert "Dank je" not in await (await outsider.get("/search?q=dank")).text()

        # Removed: the open socket is told, forgets the engagement, gets nothing more of it.
        member_id = (await _member_ids(owner, eid))[0]
        removed = await post(owner, f"/engagements/{eid}/team/{member_id}/remove", f"/engagements/{eid}")
        assert removed.status == 303
        assert (await receive_until(ws, lambda f: f["type"] == "access_removed"))["engagement_id"] == eid
        await ws.send_json({"type": "sync", "engagement_id": eid, "after": 0})
        refused = await receive_until(ws, lambda f: f["type"] in ("history", "error"))
        assert refused["type"] == "error" and refused["code"] == "engagement_unknown"
        await cws.send_json({"type": "message", "client_id": "coachee-2", "text": "Nog een vraag"})
        await receive_until(cws, lambda f: f["type"] == "ack")
        await ws.send_json({"type": "ping"})
        assert (await receive_until(ws, lambda f: f["type"] in ("pong", "exchange")))["type"] == "pong"
        assert (await co.get(f"/engagements/{eid}")).status == 404
        assert f'/engagements/{eid}"' not in await (await co.get("/")).text()
        await ws.close()
        await cws.close()
    kinds = [k for k, _actor, engagement in await _audit_kinds(db_url) if engagement == eid]
    assert "co_coach_added" in kinds and "co_coach_removed" in kinds


async def _member_ids(owner, eid: int) -> list[int]:  # type: ignore[no-untyped-def]
    import re

    page = await (await owner.get(f"/engagements/{eid}")).text()
    return [int(n) for n in re.findall(rf"/engagements/{eid}/team/(\d+)/remove", page)][::2]


async def test_supervisor_reads_only_what_was_shared(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    a = await seed(db_url, clock.now(), email="marieke@example.org", coachee="Sanne", language="en")
    s = await seed(db_url, clock.now(), email="sup@example.org", coachee="Ahmed", language="en")
    eid = a["engagement_id"]
    async with app_client(settings_for(db_url), clock) as owner, same_server(owner) as sup, \
            same_server(owner) as coachee:
        await login(owner, a["email"])
        await login(sup, s["email"])
        cws = await coachee.ws_connect(f"/c/{a['chat_token']}/ws")
        for n, text in enumerate(("Ik twijfel over mijn baan", "Mijn leidinggevende heet Karel")):
            await cws.send_json({"type": "message", "client_id": f"coachee-{n}", "text": text})
            await receive_until(cws, lambda f: f["type"] == "ack")
        await cws.close()
        note = await post(owner, f"/engagements/{eid}/messages", f"/engagements/{eid}", mode="note",
                          client_id="note-client-1", text="Privé: vermoed burn-out")
        assert note.status == 303
        added = await post(owner, f"/engagements/{eid}/team", f"/engagements/{eid}", email=s["email"], role="supervisor")
        assert added.status == 303
        # A supervisor does not reach the engagement itself.
        assert (await sup.get(f"/engagements/{eid}")).status == 404
        assert (await sup.get(f"/supervising/{eid}")).status == 404
        share_page = await (await owner.get(f"/engagements/{eid}/supervisor-share")).text()
        assert "Privé" not in share_page
        import re

        ids = [int(n) for n in re.findall(r'name="exchange_id" value="(\d+)"', share_page)]
        assert len(ids) == 2
        note_id = await _note_id(db_url, eid)
        refused = await post(owner, f"/engagements/{eid}/supervisor-share", f"/engagements/{eid}/supervisor-share",
                             supervisor_id=str(s["coach_id"]), exchange_id=str(note_id))
        assert refused.status == 400 and "never shared" in await refused.text()
        shared = await post(owner, f"/engagements/{eid}/supervisor-share", f"/engagements/{eid}/supervisor-share",
                            supervisor_id=str(s["coach_id"]), exchange_id=str(ids[0]))
        assert shared.status == 303
        listing = await (await sup.get("/supervising")).text()
        assert f"/supervising/{eid}" in listing
        case = await (await sup.get(f"/supervising/{eid}")).text()
        assert "Ik twijfel over mijn baan" in case
        assert not mentions(case, "Karel") and "burn-out" not in case and not mentions(case, "Sanne")
        # Withdrawn: nothing to read any more.
        member = int(re.search(rf"/engagements/{eid}/supervisor-share/(\d+)/withdraw",
                               await (await owner.get(f"/engagements/{eid}/supervisor-share")).text()).group(1))  # type: ignore[union-attr]
        withdrawn = await post(owner, f"/engagements/{eid}/supervisor-share/{member}/withdraw",
                               f"/engagements/{eid}/supervisor-share")
        assert withdrawn.status == 303
        assert (await sup.get(f"/supervising/{eid}")).status == 404
    trail = await _audit_kinds(db_url)
    views = [(actor, engagement) for kind, actor, engagement in trail if kind == "supervision_viewed"]
    assert views == [(s["coach_id"], eid)]
    assert {"supervisor_added", "supervision_shared", "supervision_withdrawn"} <= {k for k, _a, _e in trail}


async def _note_id(db_url: str, eid: int) -> int:
    from ecoach.logbook.models import Exchange

    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            return int(await session.scalar(select(Exchange.id).where(Exchange.engagement_id == eid,
                                                                        Exchange.direction == "internal")))
    finally:
        await engine.dispose()
