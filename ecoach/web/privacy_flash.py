"""One message for the next page of an engagement after a form (a redirect in between),
shared by the data-rights pages of the coach and of the coachee."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp_session import get_session

FLASH = "flash_privacy"


async def flash(request: web.Request, engagement_id: int, message: str, *, error: bool = False) -> None:
    """``message`` untranslated (an N_ text): the next page shows it in its language."""
    session = await get_session(request)
    session[FLASH] = {"engagement_id": engagement_id, "message": message, "error": error}


async def take_flash(request: web.Request, engagement_id: int) -> dict[str, Any] | None:
    session = await get_session(request)
    shown = session.pop(FLASH, None) if FLASH in session else None
    return shown if shown and shown.get("engagement_id") == engagement_id else None
