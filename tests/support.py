"""Helpers shared by the web tests: an in-process app on a real database."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from ecoach.actions.coaches import do_add_coach, do_create_api_token
from ecoach.actions.engagements import do_create_engagement
from ecoach.app import build_app
from ecoach.core.clock import Clock
from ecoach.logbook.db import create_engine, session_factory
from ecoach.settings import Settings
from tests.conftest import fresh_keyring

PASSWORD = "correct horse battery"


def settings_for(db_url: str, **overrides: Any) -> Settings:
    # The task runner does not run on its own in-process: a test moves the clock and calls
    # ``app[TASK_RUNNER].run_once()`` itself.
    overrides.setdefault("scheduler", {"enabled": False})
    # Tests move the clock by days with a coach logged in: logins last that long unless a
    # test of session ends sets its own limits.
    overrides.setdefault("session_max_age_hours", 24 * 365)
    overrides["accounts"] = {"session_idle_minutes": 60 * 24 * 365, **overrides.get("accounts", {})}
    return Settings(database_url=db_url, secret_key="test-secret-key", auto_migrate=False, **overrides)


@asynccontextmanager
async def app_client(settings: Settings, clock: Clock) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(build_app(settings, clock=clock)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def seed(db_url: str, now, *, email: str, coachee: str = "Sanne", language: str = "nl",  # type: ignore[no-untyped-def]
               coachee_email: str = "") -> dict[str, Any]:
    """A coach with one engagement and an API token; returns their ids and secrets."""
    engine = create_engine(db_url)
    try:
        async with session_factory(engine, None, fresh_keyring())() as session:
            coach = await do_add_coach(session, name=f"Coach {email}", email=email, password=PASSWORD,
                                       language=language, time_zone="Europe/Amsterdam", now=now)
            created = await do_create_engagement(session, coach, coachee_name=coachee,
                                                 coachee_email=coachee_email, now=now, secret="test-secret-key")
            token = await do_create_api_token(session, coach.id, "tests", now)
            await session.commit()
            return {"coach_id": coach.id, "email": email, "engagement_id": created.engagement.id,
                    "chat_token": created.chat_token, "api_token": token}
    finally:
        await engine.dispose()


CSRF = re.compile(r'name="_csrf" value="([^"]+)"')


async def csrf_of(client: TestClient, path: str) -> str:
    response = await client.get(path)
    match = CSRF.search(await response.text())
    assert match, f"no CSRF field on {path}"
    return match.group(1)


async def login(client: TestClient, email: str, password: str = PASSWORD) -> None:
    token = await csrf_of(client, "/login")
    response = await client.post("/login", data={"_csrf": token, "email": email, "password": password, "next": "/"},
                                 allow_redirects=False)
    assert response.status == 303, await response.text()


def mentions(page: str, word: str) -> bool:
    """``word`` as a word of ``page``: not inside a random token (a CSRF token or nonce
    holds any short name now and then: "...hdPimy4..." is no mention of Pim)."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", page) is not None

