"""Helpers for the tests of groups, co-coaches and supervisors."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient

from ecoach.actions.engagements import do_create_engagement
from ecoach.actions.groups import do_add_group_member, do_create_group
from ecoach.actions.session_types import check_session_type, do_save_session_type
from ecoach.logbook import queries
from ecoach.logbook.db import create_engine, session_factory
from tests.booking_support import TYPE_FORM, add_windows
from tests.conftest import fresh_keyring
from tests.support import csrf_of


@asynccontextmanager
async def same_server(client: TestClient) -> AsyncIterator[TestClient]:
    """Another browser (its own cookies) on the same app: one hub, so live events reach both."""
    other = TestClient(client.server)
    try:
        yield other
    finally:
        await other.session.close()


async def add_engagement(db_url: str, now, coach_email: str, name: str) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            coach = await queries.get_coach_by_email(session, coach_email)
            created = await do_create_engagement(session, coach, coachee_name=name, now=now, secret="test-secret-key")
            await session.commit()
            return {"engagement_id": created.engagement.id, "chat_token": created.chat_token}
    finally:
        await engine.dispose()


async def post(client: TestClient, path: str, page: str, **fields: Any):  # type: ignore[no-untyped-def]
    """A form post with the CSRF token of ``page``; returns the response (redirects not followed)."""
    data = {"_csrf": await csrf_of(client, page), **fields}
    return await client.post(path, data=data, allow_redirects=False)


async def receive_until(ws, predicate, limit: int = 50):  # type: ignore[no-untyped-def]
    """The first frame that satisfies ``predicate`` (frames before it are skipped)."""
    for _ in range(limit):
        frame = await ws.receive_json(timeout=10)
        if predicate(frame):
            return frame
    raise AssertionError("no such frame")


def group_id_of(location: str) -> int:
    return int(re.search(r"/groups/(\d+)", location).group(1))  # type: ignore[union-attr]


async def group_with_session_type(session, coach, engagement_ids: list[int], now):  # type: ignore[no-untyped-def]
    """In ``session``: the coach's session type (bookable mon-fri 09:00-12:00) and a group
    "Voorjaar" (nl) of these engagements; (session type, group)."""
    await add_windows(session, coach.id, "mon-fri 09:00-12:00")
    item = await do_save_session_type(session, coach, check_session_type(TYPE_FORM), type_id=None, now=now)
    group = await do_create_group(session, coach, name="Voorjaar", language="nl", now=now)
    for engagement_id in engagement_ids:
        await do_add_group_member(session, coach, group, engagement_id, now=now)
    return item, group

