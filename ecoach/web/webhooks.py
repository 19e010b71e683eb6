"""The coach's webhooks page (``/webhooks``): endpoints, what each last did, and the
deliveries that failed (retry), plus "send a test event". Thin: parse, one action in a
unit of work, render or redirect. The signing secret is shown once, on the page that
answers its creation (or replacement), never again.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from ecoach.actions import webhooks as actions
from ecoach.actions.errors import ActionError, NotFound, N_
from ecoach.actions.unit import unit_of_work
from ecoach.core.webhooks import CHOICES
from ecoach.keys import CLOCK, SESSIONS, SETTINGS, TASK_RUNNER
from ecoach.logbook import webhook_queries as wq
from ecoach.web.params import path_id
from ecoach.web.render import gettext_for, render
from ecoach.web.security import get_coach, require_coach

RECENT = 10
DONE = {"saved", "deleted", "on", "off", "test", "retry"}
CHOICE_LABELS = {
    "exchange.created:in": N_("A coachee wrote (chat, mail)"),
    "exchange.created:out": N_("You answered or a message went to the coachee"),
    "engagement.status_changed": N_("An engagement was paused, resumed or closed"),
    "booking.created": N_("A session was booked"),
    "booking.rescheduled": N_("A session was moved"),
    "booking.cancelled": N_("A session was cancelled"),
    "commitment.breached": N_("An answer was not sent in the agreed time"),
}


async def _page(request: web.Request, **extra: Any) -> web.Response:
    coach = get_coach(request)
    async with request.app[SESSIONS]() as session:
        endpoints = await wq.get_endpoints(session, coach.id)
        recent = {e.id: await wq.get_recent_deliveries(session, e.id, RECENT) for e in endpoints}
    done = request.query.get("done")
    context = {"endpoints": endpoints, "recent": recent, "choices": [(c, CHOICE_LABELS[c]) for c in CHOICES],
               "done": done if done in DONE else None, "error": None, "error_at": None, "new_secret": None,
               "secret_for": None, "form": None, "limit": request.app[SETTINGS].webhooks.endpoints_per_coach}
    context.update(extra)
    return await render(request, "webhooks.html", context, status=context.pop("status", 200))


async def _error(request: web.Request, exc: ActionError, where: str, form: Any = None) -> web.Response:
    return await _page(request, error=exc.translated(await gettext_for(request)), error_at=where, form=form,
                       status=exc.status)


def _form(post: Any, settings: Any) -> actions.EndpointForm:
    return actions.check_endpoint(post.get("url"), post.getall("events", []), post.get("description"),
                                  post.get("include_text") == "on", settings.webhooks)


async def webhook_card(app: web.Application, session: Any, coach_id: int) -> dict[str, Any]:
    """What the account page says about the coach's webhooks."""
    if not app[SETTINGS].webhooks.enabled:
        return {"webhooks_on": False}
    endpoints = await wq.get_endpoints(session, coach_id)
    return {"webhooks_on": True, "webhook_count": len(endpoints),
            "webhooks_turned_off": any(e.disabled_reason == "failing" for e in endpoints)}


def _wake(request: web.Request) -> None:
    runner = request.app.get(TASK_RUNNER)
    if runner is not None:
        runner.wake()


@require_coach
async def webhooks_page(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@require_coach
async def create_endpoint(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    app = request.app
    try:
        form = _form(post, app[SETTINGS])
        async with unit_of_work(app[SESSIONS]) as session:
            endpoint, secret = await actions.do_create_endpoint(
                session, get_coach(request).id, form, settings=app[SETTINGS].webhooks,
                secret_key=app[SETTINGS].secret, now=app[CLOCK].now())
    except ActionError as exc:
        return await _error(request, exc, "new", post)
    return await _page(request, new_secret=secret, secret_for=endpoint.id)


@require_coach
async def update_endpoint(request: web.Request) -> web.StreamResponse:
    post = await request.post()
    endpoint_id = path_id(request)
    try:
        form = _form(post, request.app[SETTINGS])
        async with unit_of_work(request.app[SESSIONS]) as session:
            await actions.do_update_endpoint(session, get_coach(request).id, endpoint_id, form)
    except ActionError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _error(request, exc, f"endpoint-{endpoint_id}")
    raise web.HTTPSeeOther(f"/webhooks?done=saved#endpoint-{endpoint_id}")


async def _simple(request: web.Request, done: str, act: Any) -> web.StreamResponse:
    endpoint_id = path_id(request)
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            await act(session, get_coach(request).id, endpoint_id)
    except ActionError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _error(request, exc, f"endpoint-{endpoint_id}")
    _wake(request)
    anchor = "" if done == "deleted" else f"#endpoint-{endpoint_id}"
    raise web.HTTPSeeOther(f"/webhooks?done={done}{anchor}")


@require_coach
async def turn_on(request: web.Request) -> web.StreamResponse:
    now = request.app[CLOCK].now()
    return await _simple(request, "on", lambda s, c, e: actions.do_set_enabled(s, c, e, True, now=now))


@require_coach
async def turn_off(request: web.Request) -> web.StreamResponse:
    now = request.app[CLOCK].now()
    return await _simple(request, "off", lambda s, c, e: actions.do_set_enabled(s, c, e, False, now=now))


@require_coach
async def send_test(request: web.Request) -> web.StreamResponse:
    now = request.app[CLOCK].now()
    return await _simple(request, "test", lambda s, c, e: actions.do_send_test(s, c, e, now=now))


@require_coach
async def delete_endpoint(request: web.Request) -> web.StreamResponse:
    return await _simple(request, "deleted", actions.do_delete_endpoint)


@require_coach
async def rotate_secret(request: web.Request) -> web.StreamResponse:
    endpoint_id = path_id(request)
    async with unit_of_work(request.app[SESSIONS]) as session:
        secret = await actions.do_rotate_secret(session, get_coach(request).id, endpoint_id,
                                                secret_key=request.app[SETTINGS].secret)
    return await _page(request, new_secret=secret, secret_for=endpoint_id)


@require_coach
async def retry_delivery(request: web.Request) -> web.StreamResponse:
    delivery_id = path_id(request)
    try:
        async with unit_of_work(request.app[SESSIONS]) as session:
            delivery = await actions.do_retry_delivery(session, get_coach(request).id, delivery_id,
                                                       now=request.app[CLOCK].now())
    except ActionError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _error(request, exc, "deliveries")
    _wake(request)
    raise web.HTTPSeeOther(f"/webhooks?done=retry#endpoint-{delivery.endpoint_id}")


def register(app: web.Application) -> None:
    if not app[SETTINGS].webhooks.enabled:
        return
    app.router.add_get("/webhooks", webhooks_page)
    app.router.add_post("/webhooks", create_endpoint)
    app.router.add_post("/webhooks/{id}", update_endpoint)
    app.router.add_post("/webhooks/{id}/on", turn_on)
    app.router.add_post("/webhooks/{id}/off", turn_off)
    app.router.add_post("/webhooks/{id}/test", send_test)
    app.router.add_post("/webhooks/{id}/secret", rotate_secret)
    app.router.add_post("/webhooks/{id}/delete", delete_endpoint)
    app.router.add_post("/webhooks/deliveries/{id}/retry", retry_delivery)
