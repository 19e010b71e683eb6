"""The coach's availability page (weekly windows per channel, holidays and absence, .ics
import, default commitments) and an engagement's own agreement page. Forms only: every
page works without JavaScript."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import get_session
from babel.dates import get_day_names
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import availability as actions
from ecoach.actions import availability_grid as grid
from ecoach.actions.agreement_texts import describe_windows, format_within
from ecoach.actions.availability_ics import do_import_ics
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.core.agreements import CHANNELS, due_state
from ecoach.core.i18n import gettext_for as catalogue
from ecoach.core.working_time import WorkingCalendar
from ecoach.logbook import queries
from ecoach.logbook import availability_queries as aq
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.render import gettext_for, page_language, render
from ecoach.web.params import path_id
from ecoach.web.security import get_coach, require_coach

CHANNEL_LABELS = {
    "all": N_("All channels"), "mail": N_("Mail"), "chat": N_("Chat"), "sessions": N_("Sessions (booking)"),
}
SAVED = {
    "windows": N_("The windows are saved."), "exceptions": N_("The exception is saved."),
    "agreement": N_("The commitments are saved."), "deleted": N_("Deleted."),
}


def _hhmm(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _grid(found: dict[str, grid.Effective], days: Any) -> list[dict[str, Any]]:
    """One row per weekday: the hours that apply on each answered channel."""
    return [{"day": days[d], "cells": {c: [f"{w.start:%H:%M}–{w.end:%H:%M}" for w in found[c].windows if w.weekday == d]
                                       for c in grid.ANSWERED}} for d in range(7)]


async def _coachees_see(session: AsyncSession, coach: Any, found: dict[str, grid.Effective], language: str,
                        now: Any) -> dict[str, Any]:
    """What the chat page tells a coachee in the coach's own zone: chat hours and answer times."""
    calendar = WorkingCalendar(coach.time_zone, found["chat"].windows, ())
    policy = await aq.get_coach_policy(session, coach.id)
    within = {c: format_within(*policy.within(c), language) if policy.within(c) else None for c in ("chat", "mail")}
    return {"chat_windows": describe_windows(calendar, now, coach.time_zone, language), **within}


async def _page_context(request: web.Request, session: AsyncSession) -> dict[str, Any]:
    coach = get_coach(request)
    now = request.app[CLOCK].now()
    windows = await aq.get_windows(session, coach.id)
    language = await page_language(request)
    days = get_day_names("wide", locale=language)
    by_channel: dict[str, list[dict[str, Any]]] = {channel: [] for channel in CHANNELS}
    for row in windows:
        by_channel[row.channel].append({"id": row.id, "day": days[row.weekday],
                                        "hours": f"{_hhmm(row.start_minute)}–{_hhmm(row.end_minute)}",
                                        "overnight": row.end_minute <= row.start_minute})
    found = grid.effective(windows)
    undo = (await get_session(request)).pop(UNDO, None)
    if undo:
        undo["label"] = f"{catalogue(language)(CHANNEL_LABELS[undo['channel']])}: {days[undo['weekday']]} {undo['start']}–{undo['end']}"
    return {
        "undo": undo,
        "grid": _grid(found, days), "effective": found, "answered": grid.ANSWERED, "loss": None, "pending": None,
        "coachees_see": await _coachees_see(session, coach, found, language, now),
        "channels": CHANNELS, "channel_names": CHANNEL_LABELS, "windows": by_channel, "day_names": days,
        "exceptions": await aq.get_exceptions(session, coach.id, ending_after=now),
        "policy": await aq.get_coach_policy(session, coach.id),
        "ics_limit_kb": request.app[SETTINGS].agreements.ics_max_bytes // 1024,
        "saved": SAVED.get(request.query.get("saved", "")), "error": None, "import_result": None,
    }


async def _show(request: web.Request, *, error: str | None = None, status: int = 200,
                **extra: Any) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        context = await _page_context(request, session)
    context.update(error=error, **extra)
    return await render(request, "availability.html", context, status=status)


def _change(action: Callable[[AsyncSession, web.Request, Any], Awaitable[Any]], saved: str):  # type: ignore[no-untyped-def]
    """A POST that runs one action and comes back to the page (with the error if refused)."""

    @require_coach
    async def handler(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        try:
            async with unit_of_work(request.app[SESSIONS]) as session:
                await action(session, request, form)
        except ActionError as exc:
            if exc.status == 404:
                raise
            return await _show(request, error=exc.translated(await gettext_for(request)), status=exc.status)
        raise web.HTTPSeeOther(f"/availability?saved={saved}")

    return handler


def _id(request: web.Request) -> int:
    return path_id(request)


@require_coach
async def add_windows(request: web.Request) -> web.StreamResponse:
    """Add weekly windows; first ask when a channel that follows the general hours would
    end up with fewer hours of its own (``mode``: "own" adds them anyway, "on_top" keeps
    the general hours for the channel and adds these)."""
    form = await request.post()
    coach_id = get_coach(request).id
    fields = {"channel": str(form.get("channel", "")), "weekdays": form.getall("weekday", []),
              "start": form.get("start", ""), "end": form.get("end", "")}
    mode = form.get("mode", "")
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            channel, new = grid.new_windows(fields["channel"], fields["weekdays"], fields["start"], fields["end"])
            if mode == "on_top":
                await grid.do_add_on_top(session, coach_id, **fields, now=request.app[CLOCK].now())
            elif mode != "own" and (loss := await grid.check_loss(session, coach_id, channel, new)) is not None:
                return await _show(request, loss=loss, pending={**fields, "weekdays": [str(d) for d in
                                                                                    fields["weekdays"]]})
            else:
                await actions.do_add_windows(session, coach_id, **fields, now=request.app[CLOCK].now())
    except ActionError as exc:
        return await _show(request, error=exc.translated(await gettext_for(request)), status=exc.status)
    raise web.HTTPSeeOther("/availability?saved=windows")


UNDO = "availability_undo"


@require_coach
async def delete_window(request: web.Request) -> web.StreamResponse:
    """Delete at once, and offer to undo it (the window comes back as it was)."""
    coach_id = get_coach(request).id
    async with unit_of_work(request.app[SESSIONS]) as session:
        row = next((w for w in await aq.get_windows(session, coach_id) if w.id == _id(request)), None)
        await actions.do_delete_window(session, coach_id, _id(request), now=request.app[CLOCK].now())
    if row is not None:
        (await get_session(request))[UNDO] = {"channel": row.channel, "weekday": row.weekday,
                                              "start": _hhmm(row.start_minute), "end": _hhmm(row.end_minute)}
    raise web.HTTPSeeOther("/availability?saved=deleted")


async def _add_exception(session: AsyncSession, request: web.Request, form: Any) -> None:
    given = actions.check_exception({k: form.get(k) for k in form})
    await actions.do_add_exception(session, get_coach(request), given, request.app[CLOCK].now())


async def _delete_exception(session: AsyncSession, request: web.Request, form: Any) -> None:
    await actions.do_delete_exception(session, get_coach(request).id, _id(request), now=request.app[CLOCK].now())


async def _save_agreement(session: AsyncSession, request: web.Request, form: Any) -> None:
    values = actions.check_agreement({k: form.get(k) for k in form}, inherit=False)
    await actions.do_save_coach_agreement(session, get_coach(request).id, values, request.app[CLOCK].now())


@require_coach
async def availability_page(request: web.Request) -> web.StreamResponse:
    return await _show(request)


@require_coach
async def import_ics(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    gettext = await gettext_for(request)
    if not isinstance(upload, web.FileField):
        return await _show(request, error=gettext("Choose an .ics file."), status=400)
    data = upload.file.read(request.app[SETTINGS].agreements.ics_max_bytes + 1)
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            result = await do_import_ics(
                session, get_coach(request), data, kind=str(form.get("kind", "absence")),
                auto_reply=bool(form.get("auto_reply")), now=request.app[CLOCK].now(),
                max_bytes=request.app[SETTINGS].agreements.ics_max_bytes)
    except ActionError as exc:
        return await _show(request, error=exc.translated(gettext), status=exc.status)
    return await _show(request, import_result=result)


# --- an engagement's own agreement ----------------------------------------------------


async def _owned(request: web.Request, session: AsyncSession):  # type: ignore[no-untyped-def]
    engagement = await queries.get_engagement(session, get_coach(request).id, _id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


async def _engagement_context(request: web.Request, session: AsyncSession) -> dict[str, Any]:
    engagement = await _owned(request, session)
    now = request.app[CLOCK].now()
    policy = await aq.get_policy(session, engagement.id)
    rows = await aq.get_commitments(session, engagement.id, limit=50)
    lead = timedelta(minutes=policy.remind_minutes)
    return {
        "engagement": engagement, "coachee": await queries.get_coachee(session, engagement.coachee_id),
        "own": await aq.get_engagement_agreement(session, engagement.id),
        "coach_policy": await aq.get_coach_policy(session, engagement.coach_id), "policy": policy,
        "commitments": [(c, due_state(c.due_at, now, lead) if c.state == "open" else None) for c in rows],
        "saved": request.query.get("saved") == "1", "error": None,
    }


@require_coach
async def engagement_agreement_page(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        context = await _engagement_context(request, session)
    return await render(request, "engagement_agreement.html", context)


@require_coach
async def save_engagement_agreement(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement = await _owned(request, session)
        try:
            values = actions.check_agreement({k: form.get(k) for k in form}, inherit=True)
        except ActionError as exc:  # refused before anything was written
            context = await _engagement_context(request, session)
            context["error"] = exc.translated(await gettext_for(request))
            return await render(request, "engagement_agreement.html", context, status=exc.status)
        await actions.do_save_engagement_agreement(session, engagement.id, values, request.app[CLOCK].now())
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}/agreement?saved=1")


def register(app: web.Application) -> None:
    app.router.add_get("/availability", availability_page, name="availability")
    app.router.add_post("/availability/windows", add_windows)
    app.router.add_post("/availability/windows/{id}/delete", delete_window)
    app.router.add_post("/availability/exceptions", _change(_add_exception, "exceptions"))
    app.router.add_post("/availability/exceptions/{id}/delete", _change(_delete_exception, "deleted"))
    app.router.add_post("/availability/agreement", _change(_save_agreement, "agreement"))
    app.router.add_post("/availability/ics", import_ics)
    app.router.add_get("/engagements/{id}/agreement", engagement_agreement_page)
    app.router.add_post("/engagements/{id}/agreement", save_engagement_agreement)
