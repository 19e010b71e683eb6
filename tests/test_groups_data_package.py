"""A group member's data package on both databases: the group messages they could read
while a member (their own and others', under the names the group page shows, never
another member's e-mail address), in data.json (valid against the schema) and in a
"Group" part of timeline.html; a removed member's package stops where they left, and
erasing them erases the record of their membership."""

from __future__ import annotations

from sqlalchemy import func, select

from ecoach.actions.erasure import do_erase_engagement
from ecoach.actions.groups import do_post_group_message
from ecoach.logbook import group_queries as gq
from ecoach.logbook import queries
from ecoach.logbook.group_models import GroupMemberLeft
from ecoach.logbook.models import Engagement
from tests.data_rights_support import read_package
from tests.group_support import add_engagement, group_id_of, post
from tests.support import app_client, login, seed, settings_for
from tests.test_groups import _db


async def _say(db_url: str, clock, gid: int, engagement_id: int | None, name: str, text: str,  # type: ignore[no-untyped-def]
               coach_email: str = "") -> None:
    async def work(session):  # type: ignore[no-untyped-def]
        group = await gq.get_group_by_id(session, gid)
        if engagement_id is None:
            coach = await queries.get_coach_by_email(session, coach_email)
            await do_post_group_message(session, group, text=text, client_id=text[:20], now=clock.now(), coach=coach)
        else:
            member = await queries.get_engagement_by_id(session, engagement_id)
            await do_post_group_message(session, group, text=text, client_id=text[:20], now=clock.now(),
                                        member=member, member_name=name)
    await _db(db_url, work)


async def _package(client, engagement_id: int):  # type: ignore[no-untyped-def]
    response = await client.get(f"/engagements/{engagement_id}/data-package")
    assert response.status == 200, await response.text()
    return read_package(await response.read())


async def test_package_holds_the_group_messages_the_member_could_read(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as owner:
        a = await seed(db_url, clock.now(), email="coach-pkg@example.org", coachee="Sanne", language="en",
                       coachee_email="sanne@example.org")
        ahmed = await add_engagement(db_url, clock.now(), a["email"], "ahmed@example.org")
        noor = await add_engagement(db_url, clock.now(), a["email"], "Noor")
        await login(owner, a["email"])
        gid = group_id_of((await post(owner, "/groups", "/groups", name="Voorjaar", language="en")).headers["Location"])
        await _say(db_url, clock, gid, None, "", "Before anyone joined", coach_email=a["email"])
        clock.advance(minutes=1)
        for m in (a, ahmed, noor):
            assert (await post(owner, f"/groups/{gid}/members", f"/groups/{gid}",
                               engagement_id=str(m["engagement_id"]))).status == 303
        clock.advance(minutes=1)
        await _say(db_url, clock, gid, a["engagement_id"], "Sanne", "Sanne asks a question")
        await _say(db_url, clock, gid, ahmed["engagement_id"], "ahmed@example.org", "Ahmed answers")
        await _say(db_url, clock, gid, noor["engagement_id"], "Noor", "Noor says goodbye")
        await _say(db_url, clock, gid, None, "", "The coach replies", coach_email=a["email"])
        clock.advance(minutes=1)
        removed = await post(owner, f"/groups/{gid}/members/{noor['engagement_id']}/remove", f"/groups/{gid}")
        assert removed.status == 303
        clock.advance(minutes=1)
        await _say(db_url, clock, gid, a["engagement_id"], "Sanne", "After Noor left")

        archive, data = await _package(owner, a["engagement_id"])
        [group] = data["groups"]
        assert group["name"] == "Voorjaar" and group["member_now"] is True and group["periods"][0]["left_at"] is None
        texts = [m["text"] for m in group["messages"]]
        assert texts == ["Sanne asks a question", "Ahmed answers", "Noor says goodbye", "The coach replies",
                         "After Noor left"]  # not what was written before Sanne joined
        by_text = {m["text"]: m for m in group["messages"]}
        assert by_text["Sanne asks a question"]["mine"] is True and by_text["Noor says goodbye"]["mine"] is False
        assert by_text["Noor says goodbye"]["author_name"] == "Noor"
        assert by_text["The coach replies"]["author"] == "coach"
        # Ahmed's name on the group page is an e-mail address: it is not passed on.
        assert by_text["Ahmed answers"]["author_name"] == "A member of the group"
        raw = archive.read("data.json").decode() + archive.read("timeline.html").decode()
        assert "ahmed@example.org" not in raw
        html = archive.read("timeline.html").decode()
        assert "Group: Voorjaar" in html and "Noor says goodbye" in html and "Before anyone joined" not in html
        assert html.index("Group: Voorjaar") > html.index('id="timeline"') and "<script" not in html

        # Noor was removed: her package holds the group up to her leaving, and says so.
        _archive, data = await _package(owner, noor["engagement_id"])
        [group] = data["groups"]
        assert group["member_now"] is False and group["periods"][0]["left_at"] is not None
        assert [m["text"] for m in group["messages"]] == ["Sanne asks a question", "Ahmed answers",
                                                          "Noor says goodbye", "The coach replies"]
        # Ahmed sees his own message under his own name.
        _archive, data = await _package(owner, ahmed["engagement_id"])
        mine = next(m for m in data["groups"][0]["messages"] if m["mine"])
        assert mine["author_name"] == "ahmed@example.org"


async def test_package_without_groups_has_an_empty_group_list(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as owner:
        a = await seed(db_url, clock.now(), email="coach-nogroup@example.org")
        await login(owner, a["email"])
        archive, data = await _package(owner, a["engagement_id"])
    assert data["groups"] == [] and "Group:" not in archive.read("timeline.html").decode()


async def test_erasing_a_removed_member_erases_their_ended_membership(db_url, clock) -> None:  # type: ignore[no-untyped-def]
    async with app_client(settings_for(db_url), clock) as owner:
        a = await seed(db_url, clock.now(), email="coach-erase@example.org", coachee="Sanne")
        await login(owner, a["email"])
        gid = group_id_of((await post(owner, "/groups", "/groups", name="Voorjaar", language="nl")).headers["Location"])
        await post(owner, f"/groups/{gid}/members", f"/groups/{gid}", engagement_id=str(a["engagement_id"]))
        await _say(db_url, clock, gid, a["engagement_id"], "Sanne", "Tot ziens")
        await post(owner, f"/groups/{gid}/members/{a['engagement_id']}/remove", f"/groups/{gid}")

    async def count(session):  # type: ignore[no-untyped-def]
        return await session.scalar(select(func.count()).select_from(GroupMemberLeft))

    assert await _db(db_url, count) == 1

    async def erase(session):  # type: ignore[no-untyped-def]
        engagement = await session.get(Engagement, a["engagement_id"])
        await do_erase_engagement(session, engagement, by="coach", coach_id=a["coach_id"], now=clock.now())

    await _db(db_url, erase)
    assert await _db(db_url, count) == 0
