"""The walkthrough practice's later areas, so that every page has something to show:
a triangular contract offered to coachee and sponsor, a session check-in form and the
four-supports questionnaire, an exercise and a file shared in the chat, a product, a
coachee's request for their data, a nudge plan and an erased engagement."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import contracts
from ecoach.actions.billing_setup import check_product_form, do_save_product
from ecoach.actions.chat_files import check_upload, do_send_file
from ecoach.actions.contract_checks import check_goals, check_terms
from ecoach.actions.contract_links import do_new_contract_link
from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.erasure import do_erase_engagement
from ecoach.actions.export_requests import do_request_export
from ecoach.actions.form_links import do_send_form
from ecoach.actions.resources import check_resource, do_create_resource
from ecoach.actions.session_flow import do_send_session_form
from ecoach.actions.shares import ShareRequest, do_share
from ecoach.actions.sponsor import do_save_sponsor
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import Settings
from tests.file_samples import png

GOALS = {"goal1_title": "Rustig presenteren", "goal1_indicators": "Zonder briefje\nGoed slapen", "goal1_score": "4",
         "goal2_title": "Nee zeggen tegen extra werk", "goal2_indicators": "Eén keer per week", "goal2_score": "3"}
TERMS = {"coach_asks": "Voorbereiden.", "coachee_asks": "Oefenen.", "sponsor_asks": "Tijd geven.",
         "confidentiality": "Tussen ons.", "sessions": "6", "duration_minutes": "60", "rhythm": "elke drie weken",
         "sponsor_sees": "attendance", "triangular": "on"}


async def seed_areas(session: AsyncSession, settings: Settings, coach: Coach, mine: Engagement,
                     other: Engagement, booking_id: int, now: datetime) -> dict[str, Any]:
    """What the later pages need, for one coach; returns the ids and tokens they open."""
    secret = settings.resolved_secret()
    found: dict[str, Any] = {}
    await do_save_sponsor(session, mine, organisation="Gemeente Utrecht", name="Petra de Boer",
                          email="petra@example.org", now=now)
    contract = await contracts.do_new_contract_version(session, mine, now=now)
    await contracts.do_save_draft(session, mine, contract, check_terms(TERMS, channels=["chat", "mail"]),
                                  check_goals(GOALS), now=now)
    await contracts.do_offer_contract(session, mine, contract, now=now)
    found["contract_version"] = contract.version
    found["contract_token"] = await do_new_contract_link(session, mine, "coachee", now=now, days=0, secret=secret)
    found["sponsor_token"] = await do_new_contract_link(session, mine, "sponsor", now=now, days=0, secret=secret)

    exercise = await do_create_resource(session, coach.id, check_resource(
        {"kind": "exercise", "title": "Energiegevers en -vreters", "body": "Schrijf op wat je energie geeft.",
         "questions": "Wat geeft je energie?\nWat kost je energie?", "tags": "energie"},
        has_file=False, max_chars=settings.max_message_chars), None, now)
    found["resource_id"] = exercise.id
    shared = await do_share(session, ShareRequest(coach, mine, exercise, "chat", f"share-{coach.id}"), None,
                            settings=settings, now=now)
    found["shared_exchange"] = shared.exchange.id
    picture = await check_upload("whiteboard.png", png(640, 480), settings.files.rules)
    sent = await do_send_file(session, mine, picture, author="coachee", author_name="coachee",
                              client_id=f"file-{coach.id}", now=now)
    found["file_exchange"] = sent.exchange.id

    await do_save_product(session, coach, check_product_form(
        {"name": "Traject 6 sessies", "kind": "bundle", "sessions": "6", "minutes": "120", "price": "900"}), product_id=None, now=now)
    await do_request_export(session, mine, settings=settings, now=now)
    checkin = await do_send_session_form(session, coach, booking_id, "checkin", settings=settings, now=now)
    found["form_token"] = checkin.token
    await do_send_form(session, mine, kind="supports", round="start", settings=settings, now=now)

    gone = await do_create_engagement(session, coach, coachee_name="Weg Gewist", coachee_email="", language="nl",
                                      time_zone="Europe/Amsterdam", now=now - timedelta(days=40),
                                      secret=secret)
    erased = await do_erase_engagement(session, gone.engagement, by="coach", coach_id=coach.id, now=now)
    found["erasure_id"] = erased.erasure_id
    assert await session.get(Booking, booking_id) is not None
    return found
