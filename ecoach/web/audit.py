"""The audit trail in the browser, and where each request comes from.

``origin_middleware`` tells the audit recorder (``ecoach.actions.audit``) where the
request comes from: the client's address (``client_address``, which believes
X-Forwarded-For only from ``trusted_proxies``), a device summary and the time; the
logged-in coach is added once the request is authenticated (``security.current_coach``,
``api.authenticate``).

``/audit``: the coach's own trail; ``/admin/audit``: the practice's (administrators).
Filtered by kind and date (days in the coach's time zone), newest first, a page at a time.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from aiohttp import web

from ecoach.actions.audit import Origin, set_origin
from ecoach.actions.errors import ActionError, N_
from ecoach.core.audit import GROUP_LABELS, GROUP_OF, GROUPS, KIND_LABELS, VIA_LABELS
from ecoach.core.devices import device_label
from ecoach.keys import CLOCK, SESSIONS
from ecoach.logbook import audit_queries as q
from ecoach.web.params import lenient_int
from ecoach.web.render import gettext_for, render
from ecoach.web.security import Handler, client_address, get_coach, require_admin, require_coach

PAGE_SIZE = 50
# Details shown beside an entry, with their labels (other details stay in the database).
DETAIL_LABELS = {
    "results": N_("results"), "count": N_("count"), "reason": N_("reason"), "method": N_("how"),
    "step": N_("step"), "scope": N_("scope"), "token": N_("token"), "role": N_("role"), "moved": N_("moved"),
    "intake": N_("intake page"), "active": N_("active"), "to_coach": N_("to coach"),
    "from_coach": N_("from coach"), "added": N_("added"), "removed": N_("removed"), "passkey": N_("passkey"),
}

# Codes in the details, in words (others are shown as they are).
DETAIL_VALUES = {
    "password": N_("password"), "totp": N_("authenticator app"), "recovery": N_("recovery code"),
    "invite": N_("invitation link"), "reset": N_("reset link"), "renewed": N_("renewed after a change"),
    "second_factor": N_("second factor"), "reauth": N_("confirming a change"), "logout": N_("logged out"),
    "ended_by_coach": N_("ended from the account page"), "everywhere": N_("logged out everywhere else"),
    "password_changed": N_("password changed"), "password_reset": N_("password reset"),
    "password_invite": N_("invitation accepted"), "2fa_enabled": N_("2FA turned on"),
    "2fa_disabled": N_("2FA turned off"), "deactivated": N_("deactivated"), "read": N_("read"),
    "read-write": N_("read and write"), "edited": N_("edited"), "skipped": N_("skipped"),
    "coach": N_("coach"), "admin": N_("administrator"), "passkey": N_("passkey"),
    "passkey_added": N_("passkey added"), "passkey_removed": N_("passkey removed"),
}


@web.middleware
async def origin_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    set_origin(Origin(via="api" if request.path.startswith("/api/") else "web", client=client_address(request),
                      device=device_label(request.headers.get("User-Agent", ""))[:60],
                      at=request.app[CLOCK].now()))
    return await handler(request)


class BadFilter(ActionError):
    status = 400


FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2999, 12, 30)  # beyond these, time arithmetic overflows


def _day(raw: str | None, name: str) -> date | None:
    if not raw:
        return None
    try:
        day = date.fromisoformat(raw.strip()[:10])
    except ValueError:
        raise BadFilter("date_invalid", N_("Write dates like 2026-12-24 (%(field)s)."), field=name) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise BadFilter("date_invalid", N_("Write dates like 2026-12-24 (%(field)s)."), field=name)
    return day


def parse_filter(query: Any, zone: str) -> tuple[q.TrailFilter, dict[str, str]]:
    """The filter from the query string, and its values to show and carry along."""
    group = query.get("kind", "")
    group = group if group in GROUPS else ""
    first, last = _day(query.get("from"), "from"), _day(query.get("to"), "to")
    if first and last and last < first:
        raise BadFilter("dates_reversed", N_("The last day comes before the first day."))
    tz = ZoneInfo(zone)
    shown = {"kind": group, "from": first.isoformat() if first else "", "to": last.isoformat() if last else ""}
    return q.TrailFilter(
        kinds=GROUPS[group] if group else None,
        since=datetime.combine(first, time(), tz) if first else None,
        until=datetime.combine(last + timedelta(days=1), time(), tz) if last else None,
        before_seq=lenient_int(query.get("before"), low=1),
    ), shown


async def _trail(request: web.Request, *, practice: bool) -> web.StreamResponse:
    coach = get_coach(request)
    error, status, shown = None, 200, {"kind": "", "from": "", "to": ""}
    try:
        given, shown = parse_filter(request.query, coach.time_zone)
    except ActionError as exc:
        error, status, given = exc.translated(await gettext_for(request)), exc.status, q.TrailFilter()
    async with request.app[SESSIONS]() as session:
        rows = await q.get_trail(session, None if practice else coach.id, given, limit=PAGE_SIZE + 1)
        names = {} if practice else await q.get_coachee_names(session, coach.id, (r.engagement_id for r in rows))
        coaches = await q.get_coach_names(session, [i for r in rows for i in (r.actor_id, r.coach_id)])
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    older = None
    if more and rows:
        older = "?" + urlencode({**{k: v for k, v in shown.items() if v}, "before": rows[-1].seq})
    return await render(request, "audit.html", {
        "entries": rows, "practice": practice, "names": names, "coaches": coaches, "shown": shown,
        "groups": [(g, GROUP_LABELS[g]) for g in GROUPS], "kind_labels": KIND_LABELS, "group_of": GROUP_OF,
        "via_labels": VIA_LABELS, "detail_labels": DETAIL_LABELS, "detail_values": DETAIL_VALUES, "older": older,
        "error": error,
        "first_page": given.before_seq is None,
    }, status=status)


@require_coach
async def own_trail(request: web.Request) -> web.StreamResponse:
    return await _trail(request, practice=False)


@require_admin
async def practice_trail(request: web.Request) -> web.StreamResponse:
    return await _trail(request, practice=True)


def register(app: web.Application) -> None:
    app.router.add_get("/audit", own_trail)
    app.router.add_get("/admin/audit", practice_trail)
