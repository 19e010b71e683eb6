"""The coach's own name, language and time zone: ``POST /account/profile`` (the form is on
the account page)."""

from __future__ import annotations

from aiohttp import web

from ecoach.actions.engagement_details import check_profile, do_update_profile
from ecoach.actions.errors import ActionError
from ecoach.actions.unit import unit_of_work
from ecoach.keys import SESSIONS
from ecoach.web.render import gettext_for
from ecoach.web.security import get_coach, require_coach


@require_coach
async def save_profile(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    form = {k: str(posted.get(k, "")) for k in ("name", "language", "time_zone")}
    try:
        profile = check_profile(form)
    except ActionError as exc:
        from ecoach.web.account import _page  # the account page, with the reason beside the form

        return await _page(request, error=exc.translated(await gettext_for(request)), error_at="profile",
                           status=exc.status, profile_form=form)
    async with unit_of_work(request.app[SESSIONS]) as session:
        await do_update_profile(session, get_coach(request).id, profile)
    raise web.HTTPSeeOther("/account?profile=saved")


def register(app: web.Application) -> None:
    app.router.add_post("/account/profile", save_profile)
