"""The coach notices group messages, on both databases: a member's unread message shows in
the inbox (a row per group with its count, linking to the group page), live through the
inbox's socket; opening the group (or writing in it) reads it; the first unread message
mails the coach once (immediate notifications), and the daily digest lists the group."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from ecoach.actions.groups import do_add_group_member, do_create_group, do_post_group_message
from ecoach.actions.notify import do_coach_digests
from ecoach.logbook import queries
from ecoach.logbook.mail_models import MailOutbox
from tests.group_support import add_engagement, group_id_of, post, receive_until, same_server
from tests.moments import at_local, local_now
from tests.smtp_relay import SmtpRelay, smtp_relay  # noqa: F401 - the fixture
from tests.support import app_client, login, seed, settings_for
from tests.test_groups import _db


async def _notifications(db_url: str) -> list[bytes]:
    async def work(session):  # type: ignore[no-untyped-def]
        rows = (await session.execute(select(MailOutbox).where(MailOutbox.kind == "notification")
                                      .order_by(MailOutbox.id))).scalars()
        return [r.raw for r in rows]
    return await _db(db_url, work)


async def _say(ws, client_id: str, text: str) -> None:  # type: ignore[no-untyped-def]
    await ws.send_json({"type": "message", "client_id": client_id, "text": text})
    assert (await receive_until(ws, lambda f: f["type"] in ("ack", "error")))["type"] == "ack"


async def test_unread_group_messages_in_the_inbox_live_and_by_mail(  # type: ignore[no-untyped-def]
        db_url, clock, smtp_relay: SmtpRelay) -> None:
    settings = settings_for(db_url, public_url="http://coach.test",
                            mail={"enabled": True, "domain": "coach.test", "smtp_host": smtp_relay.host,
                                  "smtp_port": smtp_relay.port, "notify_coach": "immediate"})
    async with app_client(settings, clock) as owner, same_server(owner) as browser:
        a = await seed(db_url, clock.now(), email="coach-inbox@example.org", coachee="Sanne", language="en")
        ahmed = await add_engagement(db_url, clock.now(), a["email"], "Ahmed")
        await login(owner, a["email"])
        gid = group_id_of((await post(owner, "/groups", "/groups", name="Voorjaar", language="en")).headers["Location"])
        for m in (a, ahmed):
            await post(owner, f"/groups/{gid}/members", f"/groups/{gid}", engagement_id=str(m["engagement_id"]))
        assert f'href="/groups/{gid}"' not in await (await owner.get("/")).text()  # nothing unread yet
        inbox_ws = await owner.ws_connect("/ws")
        sanne = await browser.ws_connect(f"/c/{a['chat_token']}/groups/{gid}/ws")
        await _say(sanne, "sanne-msg-1", "Wie heeft tips?")
        frame = await receive_until(inbox_ws, lambda f: f["type"] == "group_unread")
        assert (frame["group_id"], frame["unread"]) == (gid, 1)
        ahmed_ws = await browser.ws_connect(f"/c/{ahmed['chat_token']}/groups/{gid}/ws")
        await _say(ahmed_ws, "ahmed-msg-1", "Ik!")
        assert (await receive_until(inbox_ws, lambda f: f["type"] == "group_unread"))["unread"] == 2
        rows = await (await owner.get("/inbox/rows?tab=open&page=0")).text()
        assert f'href="/groups/{gid}"' in rows and "Group: Voorjaar" in rows
        assert '<span class="badge unread-count" title="Unread">2</span>' in rows
        assert "Group: Voorjaar" not in await (await owner.get("/inbox/rows?tab=closed&page=0")).text()
        # One mail for the first unread message, none for the second; it names the group, no content.
        raws = await _notifications(db_url)
        assert len(raws) == 1 and b"Sanne wrote in the group Voorjaar" in raws[0]
        assert f"http://coach.test/groups/{gid}".encode() in raws[0] and b"tips" not in raws[0]
        # Opening the group page reads it: the row goes, live.
        assert (await owner.get(f"/groups/{gid}")).status == 200
        assert (await receive_until(inbox_ws, lambda f: f["type"] == "group_unread"))["unread"] == 0
        assert f'href="/groups/{gid}"' not in await (await owner.get("/inbox/rows?tab=open&page=0")).text()
        # Unread again after the coach read it: a new mail.
        await _say(sanne, "sanne-msg-2", "Nog een vraag")
        assert (await receive_until(inbox_ws, lambda f: f["type"] == "group_unread"))["unread"] == 1
        assert len(await _notifications(db_url)) == 2
        # The coach writing in the group reads it too.
        coach_ws = await owner.ws_connect(f"/groups/{gid}/ws")
        await _say(coach_ws, "coach-msg-1", "Goed zo")
        assert (await receive_until(inbox_ws, lambda f: f["type"] == "group_unread"))["unread"] == 0
        for ws in (inbox_ws, sanne, ahmed_ws, coach_ws):
            await ws.close()


@pytest.mark.awkward_clock
async def test_the_digest_lists_groups_with_unread_messages(db_url, clock, sessions, make_coach,  # type: ignore[no-untyped-def]
                                                            make_engagement) -> None:
    coach = await make_coach(email="digest@example.org", language="en")
    created = await make_engagement(coach, coachee_name="Noor")
    settings = settings_for(db_url, public_url="http://coach.test",
                            mail={"enabled": True, "domain": "coach.test", "notify_coach": "digest"})
    async with sessions() as session:
        group = await do_create_group(session, coach, name="Najaar", language="en", now=clock.now())
        await do_add_group_member(session, coach, group, created.engagement.id, now=clock.now())
        member = await queries.get_engagement_by_id(session, created.engagement.id)
        await do_post_group_message(session, group, text="Hallo", client_id="noor-msg-1", now=clock.now(), member=member,
                                    member_name="Noor", settings=settings)
        await session.commit()
        gid = group.id
    async with sessions() as session:
        local = local_now(clock)  # the digest goes at the digest hour (07:00) or later that day
        at = clock.now() if local.hour >= 7 else at_local(local.date(), 7, 30)
        assert await do_coach_digests(session, settings, at) == 1
        await session.commit()
        [digest] = (await session.execute(select(MailOutbox))).scalars().all()
    assert digest.kind == "digest" and b"Group Najaar, unread messages: 1: http://coach.test/groups/" + \
        str(gid).encode() in digest.raw
