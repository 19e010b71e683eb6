"""The contract over HTTP on both databases: the coach drafts and offers, the coachee
accepts through their link (bad input, stale versions, replaced and expired links), a new
version needs a new acceptance, and the PDF is text with the accepted version, the
acceptance times and the page's goals."""

from __future__ import annotations

import html
import re

import pytest
from sqlalchemy import select

from ecoach.logbook import contract_queries as cq
from ecoach.logbook.db import create_engine, session_factory
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.models import Exchange
from ecoach.core.crypto import MasterKeys
from tests.conftest import TEST_MASTER_KEY
from tests.contract_support import GOALS, draft_three_goals, goal_fields, offer, party_links, pdf_text, post
from tests.moments import local_now
from tests.support import app_client, login, seed, settings_for

EMAIL = "marieke@example.org"


async def _read(db_url: str, fn):  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, Keyring(MasterKeys([TEST_MASTER_KEY])))() as session:
            return await fn(session)
    finally:
        await engine.dispose()


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


@pytest.mark.awkward_clock
async def test_draft_offer_accept_and_the_pdf_matches_the_page(db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(db_url, clock.now(), email=EMAIL, coachee="Sanne", language="en")
    eid = ids["engagement_id"]
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, EMAIL)
        await draft_three_goals(client, eid)
        await offer(client, eid, 1)
        coachee = (await party_links(client, eid))["coachee"]
        page = await (await client.get(coachee)).text()
        titles = [html.unescape(t) for t in re.findall(r'<span class="goal-title">([^<]+)</span>', page)]
        assert titles == [g[0] for g in GOALS]
        assert "Version 1 waits for your acceptance" in page
        clock.advance(minutes=5)
        response = await post(client, coachee, f"{coachee}/accept", {"version": "1", "name": "Sanne de Vries",
                                                                      "agree": "1"})
        assert response.status == 303
        assert "Thank you: your acceptance is recorded." in await (await client.get(response.headers["Location"])).text()
        pdf = await client.get(f"{coachee}/v/1/pdf")
        assert pdf.status == 200 and pdf.content_type == "application/pdf"
        text = pdf_text(await pdf.read())
        assert "Version 1 · In force" in text
        # The acceptance time (now) in the engagement's zone.
        accepted = local_now(clock)
        assert (f"Accepted by Sanne de Vries (Coachee) on {accepted.day} {accepted:%B %Y, %H:%M:%S} (Europe/Amsterdam)"
                in text)
        pdf_titles = re.findall(r"Goal \d: (.+)", text)
        assert pdf_titles == titles
        for _title, indicators, score in GOALS:
            assert indicators.split("\n")[0] in text and f"Score now: {score} out of 10" in text
        # The coach's PDF is the same document.
        coach_pdf = pdf_text(await (await client.get(f"/engagements/{eid}/contract/1/pdf")).read())
        assert re.findall(r"Goal \d: (.+)", coach_pdf) == titles
    # The acceptance is an exchange in the timeline with name, version and fingerprint.
    async def check(session):  # type: ignore[no-untyped-def]
        [contract] = await cq.get_contracts(session, eid)
        rows = (await session.execute(select(Exchange).where(Exchange.channel == "system"))).scalars().all()
        return contract, rows
    contract, rows = await _read(db_url, check)
    assert contract.status == "accepted"
    [accepted] = [r for r in rows if (r.meta or {}).get("event") == "contract_accepted"]
    assert accepted.author == "coachee" and accepted.author_name == "Sanne de Vries"
    assert accepted.meta["version"] == 1 and accepted.meta["fingerprint"] == contract.fingerprint
    assert "accepted version 1" in accepted.body_text


async def test_bad_input_stale_versions_and_a_new_version_needs_a_new_acceptance(  # type: ignore[no-untyped-def]
    db_url: str, clock
) -> None:
    ids = await seed(db_url, clock.now(), email=EMAIL, language="en")
    eid = ids["engagement_id"]
    base = f"/engagements/{eid}/contract"
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, EMAIL)
        assert (await post(client, base, f"{base}/new", {})).status == 303
        # Nothing to offer yet.
        response = await post(client, base, f"{base}/1/offer", {})
        assert response.status == 409 and "Add at least one goal before you offer the contract." in await response.text()
        bad = [
            ({**goal_fields(), "goal2_score": "12"}, "Goal 2: the score is a whole number from 1 to 10."),
            ({**goal_fields(), "goal3_indicators": ""}, "Goal 3: give at least one indicator"),
            ({**goal_fields(), "sessions": "many"}, "Number of sessions: a whole number from 1 to 200, or empty."),
            ({**goal_fields(), "end_date": "31-12-2027"}, "The end date must be a date (YYYY-MM-DD), or empty."),
            ({**goal_fields(), "ai_used": "1"}, "When you use an AI tool, say which tool and what for."),
        ]
        for fields, message in bad:
            response = await post(client, base, f"{base}/1", fields)
            page = await response.text()
            assert response.status == 400 and message in html.unescape(page), message
            assert 'value="Presenting calmly to the team"' in page  # what the coach typed stays
        response = await post(client, base, f"{base}/1", {**goal_fields(), "triangular": "1"})
        response = await post(client, base, f"{base}/1/offer", {})
        assert response.status == 409 and "fill in the sponsor contact first" in await response.text()
        await post(client, base, f"{base}/1", goal_fields())
        await offer(client, eid, 1)
        # An offered version is frozen.
        response = await post(client, base, f"{base}/1", goal_fields())
        assert response.status == 409 and "can no longer be changed" in await response.text()

        coachee = (await party_links(client, eid))["coachee"]
        refusals = [
            ({"version": "1", "name": "   ", "agree": "1"}, "A name is required."),
            ({"version": "1", "name": "Sanne"}, "Tick the box to say that you have read the contract and accept it."),
        ]
        for fields, message in refusals:
            response = await post(client, coachee, f"{coachee}/accept", fields)
            assert response.status == 400 and message in await response.text()
        assert (await post(client, coachee, f"{coachee}/accept", {"version": "1", "name": "Sanne", "agree": "1"})).status == 303

        # Version 2: goal 2 changes; the coachee's form for version 1 is stale.
        assert (await post(client, base, f"{base}/new", {})).status == 303
        changed = goal_fields(((GOALS[0]), ("Saying no twice a week", "I say no twice a week", "5"), GOALS[2]))
        page = await (await client.get(base)).text()
        goal_ids = re.findall(r'name="goal\d_id" value="(\d+)"', page)
        assert len(goal_ids) == 3
        await post(client, base, f"{base}/2", {**changed, **{f"goal{n}_id": g for n, g in enumerate(goal_ids, 1)}})
        await offer(client, eid, 2)
        page = await (await client.get(coachee)).text()
        assert "Version 2 waits for your acceptance" in page and "Saying no twice a week" in page
        response = await post(client, coachee, f"{coachee}/accept", {"version": "1", "name": "Sanne", "agree": "1"})
        assert response.status == 409
        assert "Version 2 has replaced the version you were reading." in await response.text()

        async def goals(session):  # type: ignore[no-untyped-def]
            return [(g.version, g.title) for g in await cq.get_current_goals(session, eid)]
        # Until the coachee accepts version 2, version 1 stays in force.
        assert [v for v, _ in await _read(db_url, goals)] == [1, 1, 1]
        assert (await post(client, coachee, f"{coachee}/accept", {"version": "2", "name": "Sanne", "agree": "1"})).status == 303
        assert await _read(db_url, goals) == [(2, GOALS[0][0]), (2, "Saying no twice a week"), (2, GOALS[2][0])]
        # Sending the form again (a double click) changes nothing; nothing else waits.
        response = await post(client, base, f"{coachee}/accept", {"version": "2", "name": "Sanne", "agree": "1"})
        assert response.status == 303
        response = await post(client, base, f"{coachee}/accept", {"version": "3", "name": "Sanne", "agree": "1"})
        assert response.status == 409 and "There is no contract waiting for acceptance now" in await response.text()
        assert len(await _read(db_url, lambda s: cq.get_acceptances(s, [1, 2]))) == 2
        overview = _text(await (await client.get(base)).text())
        assert "Replaced by a newer version" in overview and "In force" in overview


async def test_replaced_expired_and_unknown_links_say_what_to_do(db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(db_url, clock.now(), email=EMAIL, language="en")
    eid = ids["engagement_id"]
    base = f"/engagements/{eid}/contract"
    async with app_client(settings_for(db_url, contract={"coachee_link_days": 30}), clock) as client:
        await login(client, EMAIL)
        await draft_three_goals(client, eid)
        await offer(client, eid, 1)
        old = (await party_links(client, eid))["coachee"]
        assert (await post(client, base, f"{base}/links/coachee", {})).status == 303
        new = (await party_links(client, eid))["coachee"]
        assert new != old
        response = await client.get(old)
        assert response.status == 404
        assert "This contract link has been replaced by a newer one or withdrawn. Open the newest link your coach " \
               "sent you (it is in your chat), or ask your coach for it." in await response.text()
        response = await client.get(old[:-3] + "xyz")
        assert response.status == 404 and "This link is not valid." in await response.text()
        assert (await client.get(new)).status == 200
        clock.advance(days=31)
        response = await client.get(new)
        assert response.status == 404
        assert "This contract link has expired. Ask your coach for a new link." in await response.text()
        # An expired link's form is refused the same way.
        response = await client.post(f"{new}/accept", data={"_csrf": "x"})
        assert response.status in (403, 404)
