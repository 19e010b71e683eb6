"""An engagement's details page (``/engagements/{id}/edit``) and the confirmation pages of
its destructive actions (GET beside each POST; see web/confirm.py)."""

from __future__ import annotations

from aiohttp import web

from ecoach.actions.engagement_details import check_details, do_update_details
from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.actions.unit import unit_of_work
from ecoach.logbook import booking_queries as bq
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.keys import CLOCK, SESSIONS, SETTINGS
from ecoach.web.confirm import confirm_page
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render
from ecoach.web.security import get_coach, require_coach

FIELDS = ("coachee_name", "coachee_email", "language", "time_zone")


async def _owned(request: web.Request, session) -> Engagement:  # type: ignore[no-untyped-def]
    engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


async def _page(request: web.Request, form: dict[str, str] | None = None, error: str | None = None,
                status: int = 200) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coachee is not None
    shown = form or {"coachee_name": coachee.name, "coachee_email": coachee.email or "",
                     "language": engagement.language, "time_zone": engagement.time_zone}
    return await render(request, "engagement_edit.html", {"engagement": engagement, "coachee": coachee,
                                                          "form": shown, "error": error}, status=status)


@require_coach
async def edit_form(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@require_coach
async def save_details(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    form = {k: str(posted.get(k, "")) for k in FIELDS}
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            engagement = await _owned(request, session)
            await do_update_details(session, engagement, check_details(form), settings=request.app[SETTINGS],
                                    now=request.app[CLOCK].now())
    except ActionError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _page(request, form, exc.translated(await gettext_for(request)), exc.status)
    raise web.HTTPSeeOther(f"/engagements/{engagement.id}?changed=saved")


# --- confirmation pages ----------------------------------------------------------------


async def _confirm(request: web.Request, key: str, target: str, **fields: str) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
    back = f"/engagements/{engagement.id}"
    return await confirm_page(request, key, action=f"{back}/{target}", back=back,
                              values={"name": coachee.name if coachee else ""}, fields=fields)


@require_coach
async def confirm_status(request: web.Request) -> web.StreamResponse:
    if request.query.get("action") != "close":  # only closing asks first; the rest is one click
        raise web.HTTPSeeOther(f"/engagements/{path_id(request)}")
    return await _confirm(request, "close", "status", action="close")


@require_coach
async def confirm_new_link(request: web.Request) -> web.StreamResponse:
    return await _confirm(request, "new_chat_link", "chat-link")


@require_coach
async def confirm_revoke_link(request: web.Request) -> web.StreamResponse:
    return await _confirm(request, "revoke_chat_link", "chat-link/revoke")


@require_coach
async def confirm_new_booking_link(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        link = await bq.get_active_booking_link(session, engagement.coach_id, engagement.id,
                                                request.app[CLOCK].now())
    if link is None:  # nothing to replace: the button makes the first link at once
        raise web.HTTPSeeOther(f"/engagements/{engagement.id}#sessions")
    return await _confirm(request, "new_booking_link", "booking-link")


def register(app: web.Application) -> None:
    app.router.add_get("/engagements/{id}/edit", edit_form)
    app.router.add_post("/engagements/{id}/edit", save_details)
    app.router.add_get("/engagements/{id}/status", confirm_status)
    app.router.add_get("/engagements/{id}/chat-link", confirm_new_link)
    app.router.add_get("/engagements/{id}/chat-link/revoke", confirm_revoke_link)
    app.router.add_get("/engagements/{id}/booking-link", confirm_new_booking_link)
