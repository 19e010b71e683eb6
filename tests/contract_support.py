"""Helpers shared by the contract tests: a coach's draft with three goals through the
forms, the parties' links as the coach's page shows them, PDF text."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient
from pypdf import PdfReader

from ecoach.core.crypto import MasterKeys

from tests.support import csrf_of

GOALS = (
    ("Presenting calmly to the team", "I present without notes\nI sleep well the night before", "4"),
    ("Saying no to extra work", "I say no once a week", "3"),
    ("Choosing a next career step", "I have a decision on paper", "5"),
)


def goal_fields(goals: tuple[tuple[str, str, str], ...] = GOALS) -> dict[str, str]:
    form: dict[str, str] = {}
    for n, (title, indicators, score) in enumerate(goals, start=1):
        form.update({f"goal{n}_title": title, f"goal{n}_indicators": indicators, f"goal{n}_score": score})
    return form


async def post(client: TestClient, page: str, action: str, data: dict[str, Any]) -> Any:
    """A form post with the CSRF token of ``page``; the response (redirects not followed)."""
    token = await csrf_of(client, page)
    return await client.post(action, data={"_csrf": token, **data}, allow_redirects=False)


async def draft_three_goals(client: TestClient, engagement_id: int, **terms: Any) -> None:
    base = f"/engagements/{engagement_id}/contract"
    response = await post(client, base, f"{base}/new", {})
    assert response.status == 303, await response.text()
    page = await (await client.get(base)).text()
    version = re.search(r'action="/engagements/\d+/contract/(\d+)" class="stacked contract-form"', page).group(1)  # type: ignore[union-attr]
    fields = {"coach_asks": "Prepare.", "coachee_asks": "Practise.", "sponsor_asks": "Make time.",
              "confidentiality": "Between us.", "secrecy": "Limits apply.", "referral": "We refer.",
              "sessions": "6", "duration_minutes": "60", "rhythm": "every three weeks", "channels": "chat",
              "sponsor_sees": "attendance", **goal_fields(), **terms}
    response = await post(client, base, f"{base}/{version}", fields)
    assert response.status == 303, await response.text()


async def offer(client: TestClient, engagement_id: int, version: int) -> None:
    base = f"/engagements/{engagement_id}/contract"
    response = await post(client, base, f"{base}/{version}/offer", {})
    assert response.status == 303, await response.text()


async def party_links(client: TestClient, engagement_id: int) -> dict[str, str]:
    """The links the coach's page shows: {"coachee": path, "sponsor": path}."""
    page = await (await client.get(f"/engagements/{engagement_id}/contract")).text()
    return {m.group(2): m.group(1)
            for m in re.finditer(r'value="https?://[^/"]+(/[^"]+)" id="(coachee|sponsor)-link"', page)}


def pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


async def add_held_session(db_url: str, coach_id: int, engagement_id: int, starts_at: datetime) -> None:
    """A session that took place (the booking area's rows, as its "held" task leaves them)."""
    from ecoach.logbook.booking_models import Booking, SessionType
    from ecoach.logbook.db import create_engine, session_factory
    from ecoach.logbook.keyring import Keyring
    from tests.conftest import TEST_MASTER_KEY

    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, Keyring(MasterKeys([TEST_MASTER_KEY])))() as session:
            kind = SessionType(coach_id=coach_id, name="Coaching", duration_minutes=60, channel="video",
                               created_at=starts_at)
            session.add(kind)
            await session.flush()
            ends = starts_at + timedelta(hours=1)
            session.add(Booking(coach_id=coach_id, session_type_id=kind.id, engagement_id=engagement_id,
                                status="confirmed", starts_at=starts_at, ends_at=ends, busy_from=starts_at,
                                busy_until=ends, channel="video", uid=f"held-{engagement_id}-{starts_at.timestamp()}",
                                language="en", attendee_name="Sanne", attendee_time_zone="Europe/Amsterdam",
                                manage_token_hash=hashlib.sha256(str(starts_at).encode()).hexdigest(), manage_salt="x",
                                created_at=starts_at, updated_at=ends, held_at=ends))
            await session.commit()
    finally:
        await engine.dispose()
