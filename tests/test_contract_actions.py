"""Contract actions on both databases: two acceptances at once (a double click) record one;
the sponsor's link goes out by mail through the outbox; the sponsor contact is sealed."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select, text

from ecoach.actions import contracts
from ecoach.actions.contract_accept import do_accept_contract, do_send_offer
from ecoach.actions.contract_checks import check_goals, check_terms
from ecoach.actions.sponsor import do_save_sponsor
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.contract_models import ContractAcceptance
from ecoach.logbook.mail_models import MailOutbox
from ecoach.logbook.models import Coach, Engagement, Exchange
from ecoach.settings import Settings
from tests.contract_support import goal_fields

SETTINGS = Settings(secret_key="test-secret-key", public_url="https://coach.example.org",
                    mail={"enabled": True, "domain": "coach.example.org"})


async def _offered(sessions, coach, engagement, clock, *, triangular: bool):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        engagement = await session.get(Engagement, engagement.id)
        coach = await session.get(Coach, coach.id)
        if triangular:
            await do_save_sponsor(session, engagement, organisation="Acme Zorg", name="Petra Jansen",
                                  email="petra@acme.example", now=clock.now())
        draft = await contracts.do_new_contract_version(session, engagement, now=clock.now())
        terms = check_terms({"triangular": "1" if triangular else ""}, channels=["chat"])
        await contracts.do_save_draft(session, engagement, draft, terms, check_goals(goal_fields()), now=clock.now())
        sent = await do_send_offer(session, engagement, draft, coach, settings=SETTINGS, now=clock.now())
        await session.commit()
        return sent


async def test_a_double_click_on_accept_records_one_acceptance(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, clock
) -> None:
    coach = await make_coach()
    engagement = (await make_engagement(coach)).engagement
    await _offered(sessions, coach, engagement, clock, triangular=False)

    async def accept() -> int:
        async with sessions() as session:
            found = await session.get(Engagement, engagement.id)
            acceptance = await do_accept_contract(session, found, "coachee", version="1", name="Sanne",
                                                  agreed=True, now=clock.now())
            await session.commit()
            return acceptance.id

    first, second = await asyncio.gather(accept(), accept())
    assert first == second
    async with sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ContractAcceptance)) == 1
        accepted = select(func.count()).select_from(Exchange).where(Exchange.external_id.like("contract:%:accepted:%"))
        assert await session.scalar(accepted) == 1
        assert (await cq.get_contract_in_force(session, engagement.id)).status == "accepted"
        # The starting scores entered the goals' history once.
        assert [s.source for s in await cq.get_goal_scores(session, engagement.id)] == ["contract"] * 3


async def test_the_sponsor_gets_their_link_by_mail_and_the_contact_is_sealed(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, clock, engine
) -> None:
    coach = await make_coach(name="Marieke Bos")
    engagement = (await make_engagement(coach, language="en")).engagement
    sent = await _offered(sessions, coach, engagement, clock, triangular=True)
    assert sent.sponsor_mailed and sent.sponsor_url.startswith("https://coach.example.org/sponsor/")
    assert sent.coachee_url.startswith("https://coach.example.org/contract/")
    async with sessions() as session:
        [mail] = (await session.execute(select(MailOutbox))).scalars().all()
        assert mail.recipient == "petra@acme.example" and mail.kind == "contract"
        body = mail.raw.decode("utf-8", "replace")
        assert "Coaching contract with Marieke Bos" in body and sent.sponsor_url in body.replace("=\r\n", "")
        offer = (await session.execute(select(Exchange).where(Exchange.external_id.like("contract:%:offered")))).scalar_one()
        assert sent.coachee_url in offer.body_text and offer.direction == "out" and offer.author == "system"
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT organisation, name, email FROM sponsor_contact"))).one()
    assert all(b"Acme" not in bytes(v) and b"Petra" not in bytes(v) for v in raw)
