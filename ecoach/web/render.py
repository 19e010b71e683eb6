"""Rendering pages in the right language with the CSRF token at hand."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.core.types import LANGUAGES
from ecoach.web.keys import CLOCK, I18N, SETTINGS
from ecoach.web.labels import channel_labels
from ecoach.web.security import COACH, csrf_token, current_coach

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
        **context,
    }
    body = request.app[I18N].render(language, template, full)
    response = web.Response(text=body, status=status, content_type="text/html")
    response.headers["Content-Language"] = language
    return response


async def gettext_for(request: web.Request) -> Any:
    return request.app[I18N].gettext(await page_language(request))
