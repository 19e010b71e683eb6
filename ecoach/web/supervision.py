"""The anonymised export for supervision and intervision (``ecoach.actions.supervision``).

- ``GET /engagements/{id}/supervision``: choose exchanges (private notes are not offered);
- ``POST .../supervision/preview``: the preview, with every replacement highlighted; the
  same form marks more text (select it, or type it without JavaScript), unmarks, and keeps
  false alarms as written;
- ``POST .../supervision/download``: the Markdown file.

Nothing is stored: the selection and the coach's marks travel in the form.
"""

from __future__ import annotations

from aiohttp import web
from multidict import MultiDictProxy

from ecoach.actions import supervision as sv
from ecoach.actions.errors import N_, NotFound
from ecoach.keys import CLOCK, SESSIONS
from ecoach.logbook import privacy_queries as pq
from ecoach.logbook import queries
from ecoach.logbook.models import Engagement
from ecoach.web.params import lenient_int, path_id
from ecoach.web.render import gettext_for, page_language, render
from ecoach.web.security import get_coach, require_coach

PAGE = 100
KIND_LABELS = {
    "person": N_("Name"), "organisation": N_("Organisation"), "place": N_("Place"), "email": N_("E-mail address"),
    "phone": N_("Phone number"), "address": N_("Address"), "url": N_("Link"), "iban": N_("Bank account"),
    "bsn": N_("Citizen service number (BSN)"), "birthdate": N_("Date of birth"), "other": N_("Other"),
}


async def _owned(request: web.Request, session) -> Engagement:  # type: ignore[no-untyped-def]
    engagement = await queries.get_engagement(session, get_coach(request).id, path_id(request))
    if engagement is None:
        raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return engagement


@require_coach
async def choose(request: web.Request) -> web.StreamResponse:
    before = lenient_int(request.query.get("before"))
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        coachee = await queries.get_coachee(session, engagement.coachee_id)
        rows = await pq.get_shareable_page(session, engagement.id, before_id=before, limit=PAGE + 1)
    older = len(rows) > PAGE
    rows = rows[-PAGE:]
    return await render(request, "supervision.html", {
        "engagement": engagement, "coachee": coachee, "rows": rows,
        "older_than": rows[0].id if older and rows else None, "max": sv.MAX_SELECTED,
    })


def _form(form: MultiDictProxy) -> sv.SupervisionForm:  # type: ignore[type-arg]
    """The state in the form, with the button that was pressed applied to it."""
    marks = list(form.getall("mark", []))
    keep = list(form.getall("keep", []))
    if (gone := form.get("unmark")) is not None:
        marks = [m for m in marks if m != gone]
    if isinstance(added := form.get("keep_add"), str):
        keep.append(added)
    if (back := form.get("keep_remove")) is not None:
        keep = [k for k in keep if k != back]
    new_mark = form.get("new_mark", "") if form.get("action") == "mark" else ""
    return sv.check_form(form.getall("x", []), marks, keep, new_mark=new_mark, new_kind=form.get("new_kind"))


async def _preview(request: web.Request) -> tuple[Engagement, sv.SupervisionForm, sv.Preview]:
    state = _form(await request.post())
    language = await page_language(request)
    async with request.app[SESSIONS]() as session:
        engagement = await _owned(request, session)
        preview = await sv.build_preview(session, engagement, state, language=language)
    return engagement, state, preview


@require_coach
async def preview(request: web.Request) -> web.StreamResponse:
    engagement, state, result = await _preview(request)
    return await render(request, "supervision_preview.html", {
        "engagement": engagement, "state": state, "preview": result,
        "items": [(item, sv.segments(item.text, item.replacements)) for item in result.items],
        "found": [r for r in sv.distinct_replacements(result) if not r.by_coach],
        "marks": [(m, sv.encode_mark(m)) for m in state.marks],
        "kinds": KIND_LABELS,
        "roles": sv.ROLES,
    })


@require_coach
async def download(request: web.Request) -> web.StreamResponse:
    _engagement, _state, result = await _preview(request)
    now = request.app[CLOCK].now()
    # Audit: when the audit area lands, record_audit(coach, "anonymised export", engagement) here.
    text = sv.markdown(result, await gettext_for(request), now)
    return web.Response(text=text, content_type="text/markdown", charset="utf-8", headers={
        "Content-Disposition": f'attachment; filename="{sv.file_name(now)}"', "Cache-Control": "no-store"})


def register(app: web.Application) -> None:
    app.router.add_get("/engagements/{id}/supervision", choose)
    app.router.add_post("/engagements/{id}/supervision/preview", preview)
    app.router.add_post("/engagements/{id}/supervision/download", download)
