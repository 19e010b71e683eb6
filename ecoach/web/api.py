"""The JSON API under ``/api/v1``, for coaches, authenticated with bearer API tokens.

Each route is declared once in ``ROUTES``: that list registers the handlers and builds
the OpenAPI 3.1 document at ``/api/openapi.json`` from the pydantic models.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from ecoach.actions import engagements as eng_actions
from ecoach.actions.account import do_mark_token_used
from ecoach.actions.audit import do_note_search, do_note_view, set_actor
from ecoach.actions.errors import N_, ActionError, Forbidden, NotFound
from ecoach.actions.exchanges import check_message, exchange_dict
from ecoach.actions.replies import do_coach_reply
from ecoach.actions.unit import unit_of_work
from ecoach.core.inputs import MAX_INT, InputRefused, load_json
from ecoach.core.tokens import looks_like_token, token_digest
from ecoach.logbook import account_queries, queries
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.web import api_models as m
from ecoach.web import params
from ecoach.keys import CLOCK, SESSIONS, SETTINGS, reply_context
from ecoach.web.openapi import Param, build_openapi

Model = TypeVar("Model", bound=BaseModel)
API_COACH = web.RequestKey("api_coach", Coach)


class Unauthorized(ActionError):
    status = 401


async def authenticate(request: web.Request) -> Coach:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not looks_like_token(token.strip()):
        raise Unauthorized("unauthorized", N_("An API token is required: Authorization: Bearer <token>."))
    async with unit_of_work(request.app[SESSIONS]) as session:  # it may note the token's use
        found = await account_queries.get_api_token(session, token_digest(token.strip()))
        if found is None:
            raise Unauthorized("unauthorized", N_("This API token is not valid or has been revoked."))
        api_token, coach = found
        if request.method not in ("GET", "HEAD") and api_token.scope != "read-write":
            raise Forbidden("token_read_only", N_("This API token may only read. Create a read-write token to make changes."))
        await do_mark_token_used(session, api_token, request.app[CLOCK].now())
    set_actor(coach.id)  # the audit trail's "who" for the rest of this request
    return coach


async def body(request: web.Request, model: type[Model]) -> Model:
    try:
        data = load_json(await request.read(), max_depth=request.app[SETTINGS].limits.json_max_depth)
    except InputRefused as exc:
        error = ActionError("invalid_request", N_("The request body must be JSON: %(reason)s."), reason=str(exc))
        error.status = 400 if exc.code == "json_invalid" else 422
        raise error from None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "body"
        error = ActionError("invalid_request", f"{where}: {first['msg']}")
        error.status = 422
        raise error from None


def query_int(request: web.Request, name: str, default: int | None, *, low: int = 0, high: int = MAX_INT) -> int | None:
    return params.query_int(request, name, default, low=low, high=high, status=422)


def path_id(request: web.Request) -> int:
    return params.path_id(request, code="engagement_unknown", message=N_("This engagement does not exist."))


async def owned(request: web.Request, session) -> tuple[Engagement, Coachee]:  # type: ignore[no-untyped-def]
    engagement = await queries.get_engagement(session, request[API_COACH].id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coachee is not None
    return engagement, coachee


def engagement_out(engagement: Engagement, coachee: Coachee) -> dict[str, Any]:
    return m.EngagementOut(
        id=engagement.id,
        coachee=m.CoacheeOut(id=coachee.id, name=coachee.name, email=coachee.email),
        language=engagement.language,  # type: ignore[arg-type]
        time_zone=engagement.time_zone,
        status=engagement.status,  # type: ignore[arg-type]
        sponsor_name=engagement.sponsor_name,
        sponsor_email=engagement.sponsor_email,
        created_at=engagement.created_at,
        last_exchange_at=engagement.last_exchange_at,
        last_channel=engagement.last_channel,
        last_snippet=engagement.last_snippet,
        waiting_since=engagement.waiting_since,
        unread_count=engagement.unread_count,
    ).model_dump(mode="json")


def reply(model: BaseModel | dict[str, Any], status: int = 200) -> web.Response:
    data = model.model_dump(mode="json") if isinstance(model, BaseModel) else model
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, ensure_ascii=False))


def chat_url(request: web.Request, token: str) -> str:
    return f"{request.app[SETTINGS].base_url}/c/{token}"


# --- handlers ---------------------------------------------------------------------------

async def list_engagements(request: web.Request) -> web.Response:
    status = request.query.get("status")
    statuses = (status,) if status in ("active", "paused", "closed") else ("active", "paused")
    limit = query_int(request, "limit", 50, low=1, high=500)
    offset = query_int(request, "offset", 0)
    async with request.app[SESSIONS]() as session:
        rows = await queries.get_inbox(session, request[API_COACH].id, statuses=statuses,
                                       limit=limit or 50, offset=offset or 0)
        out = []
        for row in rows:
            coachee = await queries.get_coachee(session, row.engagement.coachee_id)
            assert coachee is not None
            out.append(engagement_out(row.engagement, coachee))
    return reply({"engagements": out})


async def create_engagement(request: web.Request) -> web.Response:
    data = await body(request, m.EngagementCreate)
    settings = request.app[SETTINGS]
    async with unit_of_work(request.app[SESSIONS]) as session:
        created = await eng_actions.do_create_engagement(
            session, request[API_COACH], coachee_name=data.coachee_name, coachee_email=data.coachee_email,
            language=data.language, time_zone=data.time_zone, sponsor_name=data.sponsor_name,
            sponsor_email=data.sponsor_email, now=request.app[CLOCK].now(),
            link_days=settings.chat_link_days, secret=settings.secret,
        )
    out = engagement_out(created.engagement, created.coachee)
    return reply({**out, "chat_url": chat_url(request, created.chat_token)}, status=201)


async def get_engagement(request: web.Request) -> web.Response:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement, coachee = await owned(request, session)
        await do_note_view(session, "engagement_viewed", engagement.coach_id, engagement_id=engagement.id)
    return reply(engagement_out(engagement, coachee))


async def change_status(request: web.Request) -> web.Response:
    data = await body(request, m.StatusChange)
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement, coachee = await owned(request, session)
        await eng_actions.do_change_status(session, engagement, data.action, now=request.app[CLOCK].now())
    return reply(engagement_out(engagement, coachee))


async def list_exchanges(request: web.Request) -> web.Response:
    after = query_int(request, "after_id", None)
    before = query_int(request, "before_id", None)
    limit = query_int(request, "limit", 100, low=1, high=1000) or 100
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement, _ = await owned(request, session)
        rows = await queries.get_timeline(session, engagement.id, after_id=after, before_id=before, limit=limit + 1)
        more = len(rows) > limit
        rows = rows[:limit] if after is not None else rows[-limit:]
        await do_note_view(session, "timeline_viewed", engagement.coach_id, engagement_id=engagement.id,
                           count=len(rows))
    return reply({"exchanges": [exchange_dict(r) for r in rows], "has_more": more})


async def post_message(request: web.Request) -> web.Response:
    data = await body(request, m.MessageCreate)
    text = check_message(data.text, request.app[SETTINGS].max_message_chars)
    async with request.app[SESSIONS]() as session:
        engagement, _ = await owned(request, session)
    recorded = await do_coach_reply(reply_context(request.app), request[API_COACH], engagement.id,
                                    channel=data.channel, text=text, client_id=data.client_id)
    return reply(exchange_dict(recorded.exchange), status=201 if recorded.created else 200)


async def new_chat_link(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement, _ = await owned(request, session)
        token = await eng_actions.do_new_chat_link(session, engagement, now=request.app[CLOCK].now(),
                                                   days=settings.chat_link_days, secret=settings.secret)
    return reply({"chat_url": chat_url(request, token)}, status=201)


async def revoke_chat_link(request: web.Request) -> web.Response:
    async with unit_of_work(request.app[SESSIONS]) as session:
        engagement, _ = await owned(request, session)
        await eng_actions.do_revoke_chat_links(session, engagement, now=request.app[CLOCK].now())
    return reply({"chat_url": None})


async def search(request: web.Request) -> web.Response:
    q = request.query.get("q", "").strip()[:200]
    if not q:
        error = ActionError("invalid_request", N_("q: words to search for are required."))
        error.status = 422
        raise error
    async with unit_of_work(request.app[SESSIONS]) as session:
        hits = await queries.search_logbook(session, request[API_COACH].id, q)
        await do_note_search(session, request[API_COACH].id, results=len(hits))
    return reply({"hits": [{"engagement_id": h.exchange.engagement_id, "coachee_name": h.coachee_name,
                            "exchange": exchange_dict(h.exchange)} for h in hits]})


# --- the route table --------------------------------------------------------------------

@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    response: type[BaseModel]
    status: int = 200
    request: type[BaseModel] | None = None
    params: tuple[Param, ...] = field(default_factory=tuple)
    also: tuple[int, ...] = ()  # further success statuses, e.g. 200 for a resend
    also_reason: str = ""


ID = Param("id", "path", "integer", "Engagement id", minimum=1, maximum=MAX_INT)
ROUTES = (
    Route("GET", "/api/v1/engagements", list_engagements, "Engagements in inbox order", m.EngagementList,
          params=(Param("status", "query", "string", "active, paused or closed (default: active and paused)"),
                  Param("limit", "query", "integer", "1-500, default 50", minimum=1, maximum=500),
                  Param("offset", "query", "integer", "default 0", minimum=0, maximum=MAX_INT))),
    Route("POST", "/api/v1/engagements", create_engagement, "Start an engagement", m.EngagementCreated,
          201, m.EngagementCreate),
    Route("GET", "/api/v1/engagements/{id}", get_engagement, "One engagement", m.EngagementOut, params=(ID,)),
    Route("POST", "/api/v1/engagements/{id}/status", change_status, "Pause, resume or close",
          m.EngagementOut, request=m.StatusChange, params=(ID,)),
    Route("GET", "/api/v1/engagements/{id}/exchanges", list_exchanges, "The timeline, paged", m.ExchangePage,
          params=(ID, Param("after_id", "query", "integer", "Exchanges after this id, oldest first",
                            minimum=0, maximum=MAX_INT),
                  Param("before_id", "query", "integer", "Exchanges before this id (newest page by default)",
                        minimum=0, maximum=MAX_INT),
                  Param("limit", "query", "integer", "1-1000, default 100", minimum=1, maximum=1000))),
    Route("POST", "/api/v1/engagements/{id}/messages", post_message,
          "Answer the coachee (201; 200 when client_id was sent before)", m.ExchangeOut, 201,
          m.MessageCreate, params=(ID,), also=(200,), also_reason="Sent before with this client_id: the stored exchange"),
    Route("POST", "/api/v1/engagements/{id}/chat-link", new_chat_link,
          "Replace the coachee's chat link", m.ChatLinkOut, 201, params=(ID,)),
    Route("DELETE", "/api/v1/engagements/{id}/chat-link", revoke_chat_link,
          "Withdraw the coachee's chat link", m.ChatLinkOut, params=(ID,)),
    Route("GET", "/api/v1/search", search, "Full-text search over the logbook", m.SearchResult,
          params=(Param("q", "query", "string", "Words to find (prefixes match)", required=True),)),
)


def _authenticated(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):  # type: ignore[no-untyped-def]
    async def wrapped(request: web.Request) -> web.StreamResponse:
        request[API_COACH] = await authenticate(request)
        return await handler(request)

    return wrapped


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(build_openapi(ROUTES, base_url=request.app[SETTINGS].base_url))


def register(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, _authenticated(route.handler))
    app.router.add_get("/api/openapi.json", openapi)
