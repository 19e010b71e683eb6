"""Isolation on both databases: the sponsor's page shows only what the contract in force
allows (sessions held; approved summaries when agreed; goals only when agreed; never the
logbook, notes, scores or waiting summaries); sponsor and coachee tokens open nothing but
their own pages; another coach reaches none of it. Notes: private notes stay with the
coach, shared ones reach the coachee's chat page."""

from __future__ import annotations

import re
from datetime import timedelta

from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.export_queries import get_exportable_exchanges
from ecoach.logbook.keyring import Keyring
from ecoach.core.crypto import MasterKeys
from tests.conftest import TEST_MASTER_KEY
from tests.contract_support import GOALS, add_held_session, draft_three_goals, offer, party_links, post
from tests.support import app_client, login, seed, settings_for
from tests.test_contract_web import _text

A, B = "anna@example.org", "bert@example.org"
SECRETS = ("SECRET-CHAT", "SECRET-NOTE", "SHARED-NOTE", "WAITING-SUMMARY", "DECLINED-SUMMARY")


async def _triangular(client, eid: int, **terms: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    base = f"/engagements/{eid}/contract"
    response = await post(client, base, f"/engagements/{eid}/sponsor",
                          {"organisation": "Acme Zorg", "sponsor_name": "Petra Jansen", "sponsor_email": ""})
    assert response.status == 303
    await draft_three_goals(client, eid, triangular="1", **terms)
    await offer(client, eid, 1)
    return await party_links(client, eid)


async def test_the_sponsor_sees_only_what_was_agreed(db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(db_url, clock.now(), email=A, coachee="Sanne", language="en")
    other = await seed(db_url, clock.now(), email=B, coachee="Bob", language="en")
    eid = ids["engagement_id"]
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, A)
        links = await _triangular(client, eid, sponsor_sees="summaries")
        sponsor, coachee = links["sponsor"], links["coachee"]
        # The sponsor's part: no goals (not agreed), no scores; nothing of the coaching yet.
        page = _text(await (await client.get(sponsor)).text())
        assert "Version 1 of the contract waits for your acceptance" in page
        assert "Nothing yet: this page shows the coaching once every party has accepted the contract." in page
        assert all(g[0] not in page for g in GOALS) and "Score now" not in page
        # Coachee accepts; the sponsor's acceptance is still missing, so still nothing to see.
        await post(client, coachee, f"{coachee}/accept", {"version": "1", "name": "Sanne", "agree": "1"})
        assert "Nothing yet" in _text(await (await client.get(sponsor)).text())
        response = await post(client, sponsor, f"{sponsor}/accept", {"version": "1", "name": "Petra Jansen",
                                                                      "agree": "1"})
        assert response.status == 303
        # The logbook fills up with things the sponsor must never see.
        await client.post(f"/engagements/{eid}/messages", data={})  # (a refused empty post changes nothing)
        base = f"/engagements/{eid}"
        await post(client, base, f"{base}/notes", {"note": "SECRET-NOTE", "visibility": "private",
                                                   "client_id": "note-0001"})
        await post(client, base, f"{base}/notes", {"note": "SHARED-NOTE", "visibility": "shared",
                                                   "client_id": "note-0002"})
        await post(client, base, f"{base}/messages", {"text": "SECRET-CHAT", "channel": "chat",
                                                      "client_id": "chat-0001"})
        for text in ("WAITING-SUMMARY", "DECLINED-SUMMARY", "APPROVED-SUMMARY"):
            response = await post(client, f"{base}/contract", f"{base}/sponsor/summaries", {"summary": text})
            assert response.status == 303
        summaries = re.findall(r'action="(/contract/[^"]+/summaries/\d+)"', await (await client.get(coachee)).text())
        declined, approved = summaries[2], summaries[0]  # newest first: APPROVED, DECLINED, WAITING
        assert (await post(client, coachee, approved, {"decision": "approve"})).status == 303
        assert (await post(client, coachee, declined, {"decision": "decline"})).status == 303
        clock.advance(days=1)
        await add_held_session(db_url, ids["coach_id"], eid, clock.now() - timedelta(hours=3))

        page = _text(await (await client.get(sponsor)).text())
        assert "1 of 6 sessions held." in page and "APPROVED-SUMMARY" in page
        assert not [s for s in SECRETS if s in page], page
        assert all(g[0] not in page for g in GOALS) and "Score now" not in page
        # The coachee's own page shows the shared note nowhere but the chat; the chat shows it.
        chat = _text(await (await client.get(f"/c/{ids['chat_token']}")).text())
        assert "SHARED-NOTE" in chat and "a note from your coach" in chat and "SECRET-NOTE" not in chat

        # Tokens open only their own pages.
        sponsor_token, coachee_token = sponsor.rsplit("/", 1)[1], coachee.rsplit("/", 1)[1]
        for path in (f"/contract/{sponsor_token}", f"/contract/{sponsor_token}/v/1", f"/contract/{sponsor_token}/v/1/pdf",
                     f"/sponsor/{coachee_token}"):
            response = await client.get(path)
            assert response.status == 404 and "This link is not valid." in await response.text(), path
        response = await post(client, coachee, f"/contract/{sponsor_token}/summaries/1", {"decision": "approve"})
        assert response.status == 404
        response = await post(client, coachee, f"/contract/{coachee_token}/v/99", {})
        assert response.status in (404, 405)
        assert (await client.get(f"/contract/{coachee_token}/v/99")).status == 404

    async with app_client(settings_for(db_url), clock) as client:
        # Another coach: none of the engagement's contract pages or forms.
        await login(client, B)
        own = f"/engagements/{other['engagement_id']}/contract"
        for path in (f"/engagements/{eid}/contract", f"/engagements/{eid}/contract/1",
                     f"/engagements/{eid}/contract/1/pdf"):
            assert (await client.get(path)).status == 404, path
        for path, data in ((f"/engagements/{eid}/contract/new", {}), (f"/engagements/{eid}/contract/1/offer", {}),
                           (f"/engagements/{eid}/contract/links/sponsor", {}),
                           (f"/engagements/{eid}/sponsor", {"organisation": "X", "sponsor_name": "Y"}),
                           (f"/engagements/{eid}/sponsor/summaries", {"summary": "Z"}),
                           (f"/engagements/{eid}/notes", {"note": "x", "client_id": "note-0003"})):
            assert (await post(client, own, path, data)).status == 404, path
        # Bert's own coachee's token cannot decide Anna's summaries either.
        await draft_three_goals(client, other["engagement_id"])
        await offer(client, other["engagement_id"], 1)
        bob = (await party_links(client, other["engagement_id"]))["coachee"]
        response = await post(client, bob, f"{bob}/summaries/{approved.rsplit('/', 1)[1]}", {"decision": "decline"})
        assert response.status == 404 and "This summary does not exist." in await response.text()

    # No export for supervision carries a private note.
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, Keyring(MasterKeys([TEST_MASTER_KEY])))() as session:
            texts = [x.body_text for x in await get_exportable_exchanges(session, ids["coach_id"], eid)]
            assert "SECRET-CHAT" in texts and "SHARED-NOTE" in texts and "SECRET-NOTE" not in texts
            assert await get_exportable_exchanges(session, other["coach_id"], eid) == []
    finally:
        await engine.dispose()


async def test_attendance_only_and_a_contract_without_a_sponsor_part(db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(db_url, clock.now(), email=A, language="en")
    eid = ids["engagement_id"]
    base = f"/engagements/{eid}/contract"
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, A)
        links = await _triangular(client, eid, sponsor_sees_goals="1")
        sponsor, coachee = links["sponsor"], links["coachee"]
        # Goals agreed for the sponsor: their wording, never their scores.
        page = _text(await (await client.get(sponsor)).text())
        assert all(g[0] in page for g in GOALS) and "Score now" not in page
        await post(client, coachee, f"{coachee}/accept", {"version": "1", "name": "Sanne", "agree": "1"})
        await post(client, sponsor, f"{sponsor}/accept", {"version": "1", "name": "Petra", "agree": "1"})
        # Attendance only: no summaries may be written.
        response = await post(client, base, f"/engagements/{eid}/sponsor/summaries", {"summary": "Going well"})
        assert response.status == 409
        assert "The contract in force does not give the sponsor progress summaries." in await response.text()
        page = _text(await (await client.get(sponsor)).text())
        assert "0 of 6 sessions held." in page and "attendance only" in page
        # Version 2 drops the sponsor: nothing for them to accept, and the page empties once it is in force.
        await post(client, base, f"{base}/new", {})
        await draft_fields_without_sponsor(client, eid)
        await offer(client, eid, 2)
        response = await post(client, base, f"{sponsor}/accept", {"version": "2", "name": "Petra", "agree": "1"})
        assert response.status == 403 and "This contract has no part for a sponsor." in await response.text()
        await post(client, coachee, f"{coachee}/accept", {"version": "2", "name": "Sanne", "agree": "1"})
        page = _text(await (await client.get(sponsor)).text())
        assert "Nothing yet" in page and all(g[0] not in page for g in GOALS)


async def draft_fields_without_sponsor(client, eid: int) -> None:  # type: ignore[no-untyped-def]
    from tests.contract_support import goal_fields

    base = f"/engagements/{eid}/contract"
    response = await post(client, base, f"{base}/2", {**goal_fields(), "sponsor_sees": "attendance"})
    assert response.status == 303
