"""Rendering pages in the right language with the CSRF token at hand."""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from ecoach.core.types import LANGUAGES
from ecoach.keys import CLOCK, I18N, SESSIONS, SETTINGS
from ecoach.web.labels import channel_labels
from ecoach.web.security import COACH, csrf_token, current_coach

log = logging.getLogger(__name__)

LANGUAGE = web.RequestKey("language", str)


def set_language(request: web.Request, language: str) -> None:
    """Coachee pages speak the engagement's language, whoever opens them."""
    request[LANGUAGE] = language if language in LANGUAGES else "en"


async def page_language(request: web.Request) -> str:
    if LANGUAGE in request:
        return request[LANGUAGE]
    coach = await current_coach(request)
    if coach is not None:
        return coach.language
    header = request.headers.get("Accept-Language", "")
    for part in header.split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return request.app[SETTINGS].default_language


async def render(
    request: web.Request,
    template: str,
    context: dict[str, Any],
    *,
    status: int = 200,
) -> web.Response:
    language = await page_language(request)
    gettext = request.app[I18N].gettext(language)
    full = {
        "channel_labels": channel_labels(gettext),
        "request": request,
        "coach": request.get(COACH),
        "csrf_token": await csrf_token(request),
        "now": request.app[CLOCK].now(),
        **await _badges(request),
        **context,
    }
    body = request.app[I18N].render(language, template, full)
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Content-Language"] = language
    return response


async def _badges(request: web.Request) -> dict[str, int]:
    """The logged-in coach's held mail and waiting intake requests, for the navigation."""
    coach = request.get(COACH)
    badges = {"quarantine_held": 0, "pending_requests": 0}
    if coach is None:
        return badges
    from ecoach.actions.quarantine import count_held
    from ecoach.logbook.booking_queries import count_requests

    try:
        async with request.app[SESSIONS]() as session:
            if request.app[SETTINGS].mail.enabled:
                badges["quarantine_held"] = await count_held(session, coach.id)
            badges["pending_requests"] = await count_requests(session, coach.id, request.app[CLOCK].now())
    except Exception:  # noqa: BLE001 - a badge never breaks a page (error pages included)
        log.warning("could not count the navigation badges", exc_info=True)
    return badges


async def gettext_for(request: web.Request) -> Any:
    return request.app[I18N].gettext(await page_language(request))
