"""The contract over HTTP on both databases: the coach drafts and offers, the coachee and
the sponsor accept through their links (bad input, stale versions, replaced and expired
links), a new version needs a new acceptance, and the PDF is text with the accepted
version, the acceptance times and the page's goals."""

from __future__ import annotations

import re

from sqlalchemy import select

from ecoach.logbook.contract_models import ContractAcceptance
from ecoach.logbook.db import create_engine, session_factory
from tests.contract_support import GOALS, draft_three_goals, offer, party_links, pdf_text, post
from tests.support import app_client, login, seed, settings_for

EMAIL = "marieke@example.org"


async def test_draft_offer_accept_and_pdf(db_url: str, clock) -> None:  # type: ignore[no-untyped-def]
    ids = await seed(db_url, clock.now(), email=EMAIL, coachee="Sanne", language="en")
    eid = ids["engagement_id"]
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, EMAIL)
        await draft_three_goals(client, eid)
        await offer(client, eid, 1)
        links = await party_links(client, eid)
        coachee = links["coachee"]
        page = await (await client.get(coachee)).text()
        for title, _, _ in GOALS:
            assert title in page
        assert "Version 1 waits for your acceptance" in page
        response = await post(client, coachee, f"{coachee}/accept", {"version": "1", "name": "Sanne de Vries", "agree": "1"})
        assert response.status == 303
        pdf = await client.get(f"{coachee}/v/1/pdf")
        assert pdf.status == 200 and pdf.content_type == "application/pdf"
        text = pdf_text(await pdf.read())
        assert "Version 1" in text and "Sanne de Vries" in text
        for title, _, _ in GOALS:
            assert title in text
