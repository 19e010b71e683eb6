"""What the pages show of the session structure: beside each session on the engagement
page (check-in, close, feedback), the coaching panel (review prompt, progress chart,
evaluation), and on the coachee's chat page (forms to fill in, their progress)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from aiohttp_session import get_session
from babel.dates import format_date
from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import session_goals
from ecoach.actions.errors import N_
from ecoach.actions.reviews import DECISIONS
from ecoach.actions.form_links import TITLES, closes_at, form_token_of, form_url
from ecoach.core.progress_chart import Point, Series, legend, render_svg
from ecoach.logbook import session_queries
from ecoach.logbook.booking_models import Booking
from ecoach.logbook.models import Engagement
from ecoach.logbook.session_models import FormRequest
from ecoach.keys import CLOCK, I18N, SETTINGS
from ecoach.web.form_views import shown_answers

SOURCES = {"check_in": N_("check-in"), "review": N_("review"), "coachee": N_("own update"),
           "contract": N_("contract")}
CHART_TITLE = N_("Scores per goal over time")
CHART_EMPTY = N_("No scores yet.")
CHART_GOAL = N_("%(goal)s: %(count)s scores, from %(first)s to %(last)s.")


FLASH = "flash_sessions"
FLASH_SCORES = "flash_scores"


async def flash_scores(request: web.Request, engagement_id: int, message: str, *, error: bool = False) -> None:
    """A notice for the coachee's chat page after a score update (after the redirect)."""
    (await get_session(request))[FLASH_SCORES] = {"engagement_id": engagement_id, "message": message, "error": error}


async def take_flash(request: web.Request, engagement_id: int) -> str | None:
    """The notice left for this engagement's next page (after a redirect), once."""
    shown = (await get_session(request)).pop(FLASH, None)
    return shown["message"] if shown and shown.get("engagement_id") == engagement_id else None


def form_state(form: FormRequest | None, now: datetime) -> str:
    """none, open, answered or expired (as the session row shows it)."""
    if form is None:
        return "none"
    if form.answered_at is not None:
        return "answered"
    if form.expires_at is not None and form.expires_at <= now:
        return "expired"
    return "open"


async def session_extras(request: web.Request, session: AsyncSession, booking_ids: Sequence[int],
                         language: str) -> dict[int, dict[str, Any]]:
    """Per session: its check-in (with the answers) and feedback form, and whether it was closed."""
    now, gettext = request.app[CLOCK].now(), _gettext(request, language)
    forms = await session_queries.get_session_forms(session, booking_ids)
    closes = await session_queries.get_closes(session, booking_ids)
    extras: dict[int, dict[str, Any]] = {b: {"checkin": None, "feedback": None, "close": closes.get(b)}
                                         for b in booking_ids}
    for form in forms:  # oldest first: the newest of a kind wins
        if form.booking_id in extras and form.kind in ("checkin", "feedback"):
            extras[form.booking_id][form.kind] = form
    for item in extras.values():
        item["checkin_state"] = form_state(item["checkin"], now)
        item["feedback_state"] = form_state(item["feedback"], now)
        item["checkin_answers"] = shown_answers(item["checkin"], gettext) if item["checkin"] else []
    return extras


def _gettext(request: web.Request, language: str) -> Any:
    return request.app[I18N].gettext(language)


async def progress_chart(request: web.Request, session: AsyncSession, engagement: Engagement, *, language: str,
                         zone: str, id_prefix: str, goals: list[Any]) -> dict[str, Any]:
    """The chart (SVG), its legend and the same scores as table rows."""
    _ = _gettext(request, language)
    history = await session_goals.score_history(session, engagement, goals)
    tz = ZoneInfo(zone)

    def day(at: datetime) -> str:
        return format_date(at.astimezone(tz), "d MMM", locale=language)

    def source(name: str) -> str:
        return _(SOURCES[name]) if name in SOURCES else name

    series = [Series(goal.title, tuple(Point(s.at, s.score, s.source) for s in scores))
              for goal, scores in history]
    rows = sorted(({"at": p.at, "day": format_date(p.at.astimezone(tz), "d MMMM y", locale=language),
                    "goal": s.title, "score": p.score, "source": source(p.source)}
                   for s in series for p in s.points), key=lambda r: (r["at"], r["goal"]))
    described = [_(CHART_GOAL) % {"goal": s.title, "count": len(s.points), "first": s.points[0].score,
                                  "last": s.points[-1].score}
                 for s in series if s.points]
    svg = render_svg(series, title=_(CHART_TITLE), description=" ".join(described) or _(CHART_EMPTY),
                     id_prefix=id_prefix, day=day,
                     label=lambda p: f"{day(p.at)}: {p.score}/10 ({source(p.source)})")
    latest = [{"goal": s.title, "score": s.points[-1].score, "source": source(s.points[-1].source),
               "day": day(s.points[-1].at)} for s in series if s.points]
    return {"svg": Markup(svg), "rows": rows, "legend": legend(series), "empty": not rows, "latest": latest,
            "goals": [g for g, _scores in history]}


async def coaching_panel(request: web.Request, session: AsyncSession, engagement: Engagement,
                         zone: str, language: str) -> dict[str, Any]:
    """The coach's panel on the engagement page: open reviews with the scores so far,
    the progress chart, the evaluation and four-supports questionnaire."""
    reviews = await session_queries.get_reviews(session, engagement.id)
    forms = await session_queries.get_engagement_forms(session, engagement.id, ("evaluation", "supports"))
    now = request.app[CLOCK].now()
    goals = await session_goals.current_goals(session, engagement)
    coachee_forms = [{"form": f, "state": form_state(f, now), "title": TITLES[f.kind]}
                     for f in forms if f.respondent == "coachee"]
    return {
        "open_reviews": [r for r in reviews if r.decided_at is None],
        "decided_reviews": [r for r in reviews if r.decided_at is not None],
        "chart": await progress_chart(request, session, engagement, language=language, zone=zone,
                                      id_prefix="progress", goals=goals),
        "forms": coachee_forms,
        "goals": goals,
        "adjust_url": session_goals.adjust_url(engagement),
        "decisions": DECISIONS,
        "flash": await take_flash(request, engagement.id),
    }


async def coachee_panel(request: web.Request, session: AsyncSession, engagement: Engagement,
                        chat_token: str | None) -> dict[str, Any]:
    """The chat page's part: the forms waiting for the coachee, and their progress.
    ``chat_token`` None: the coach's read-only preview (no form links, no scores form,
    and the coachee's flash message is not taken)."""
    settings, now = request.app[SETTINGS], request.app[CLOCK].now()
    waiting = []
    for form in await session_queries.get_open_forms(session, engagement.id, now):
        booking = await session.get(Booking, form.booking_id) if form.booking_id else None
        until = closes_at(form, booking)
        if (booking is not None and booking.status != "confirmed") or (until is not None and until <= now):
            continue  # a check-in closes with its session
        token = form_token_of(form, settings.secret)
        if token is not None:
            waiting.append({"form": form, "title": TITLES[form.kind],
                            "url": form_url(settings, token) if chat_token else None, "until": until})
    shown = (await get_session(request)).pop(FLASH_SCORES, None) if chat_token else None
    goals = await session_goals.current_goals(session, engagement)
    return {
        "forms": waiting,
        "flash": shown if shown and shown.get("engagement_id") == engagement.id else None,
        "goals": goals,
        "scores_action": f"/c/{chat_token}/scores" if chat_token else None,
        "chart": await progress_chart(request, session, engagement, language=engagement.language,
                                      zone=engagement.time_zone, id_prefix="my-progress", goals=goals),
    }
