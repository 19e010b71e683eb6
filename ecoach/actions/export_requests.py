"""The coachee asks for their data package; the coach approves (or declines, saying why).

- ``do_request_export``: from the coachee's chat page. One open request at a time: asking
  again while one waits (or its link still works) returns that one. The request is a
  logbook entry from the coachee (unread for the coach, no answer owed in the inbox's
  sense), and a mail to the coach when mail is on.
- ``do_approve_export``: the coach approves; the coachee gets a download link that works
  ``export.link_hours`` (on their chat page, and by mail when mail is on and they have an
  address); a logbook entry tells them, live in the chat.
- ``do_decline_export``: the coach declines with a reason the coachee reads.
- ``check_download``: the link's token -> the request and its engagement, or why not.

The link's token is derived from the server's secret key and a stored salt (as chat links
are), so the chat page can show it again; the database keeps only its digest.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.actions.privacy_mail import format_date, queue_notice
from ecoach.core import notices
from ecoach.core.i18n import gettext_for
from ecoach.core.text import normalise_message
from ecoach.core.tokens import derived_token, looks_like_token, new_salt, token_digest
from ecoach.logbook import privacy_queries as pq
from ecoach.logbook import queries
from ecoach.logbook.models import Coach, Engagement
from ecoach.logbook.privacy_models import APPROVED, DECLINED, REQUESTED, ExportRequest
from ecoach.settings import Settings

log = logging.getLogger(__name__)

MAX_REASON = 1000

# Timeline notices, read by coach and coachee alike, each in their own language and zone.
ASKED = N_("%(name)s asked for a copy of their data (right of access).")
READY = N_("The data package is ready. It can be downloaded from \"Your data\" on the chat page until %(until)s.")
DECLINED_TEXT = N_("The request for a copy of the data was not approved: %(reason)s")
COACH_SUBJECT = N_("%(name)s asked for a copy of their data")
COACH_BODY = N_("%(name)s asked for a copy of their data (right of access). Approve it here: %(url)s")
COACHEE_SUBJECT = N_("Your data package is ready")
COACHEE_BODY = N_("Hello %(name)s,\n\nYour data package is ready: everything your coaching logbook holds, "
                  "as a ZIP file.\n\nDownload it here until %(until)s: %(url)s")


@dataclass(frozen=True)
class Download:
    request: ExportRequest
    engagement: Engagement


def download_token(request: ExportRequest, secret: str) -> str | None:
    """The link's token again (None when the request has no link)."""
    # "export:" keeps these tokens apart from chat links made from the same secret.
    return derived_token(secret, f"export:{request.salt}") if request.salt else None


def download_url(settings: Settings, token: str) -> str:
    return f"{settings.base_url}/data/{token}"


def link_works(request: ExportRequest, now: datetime) -> bool:
    return request.status == APPROVED and request.expires_at is not None and request.expires_at > now


async def do_request_export(session: AsyncSession, engagement: Engagement, *, settings: Settings,
                            now: datetime) -> ExportRequest:
    """The coachee's request (idempotent while one is open)."""
    latest = await pq.get_latest_export_request(session, engagement.id)
    if latest is not None and (latest.status == REQUESTED or link_works(latest, now)):
        return latest
    request = ExportRequest(engagement_id=engagement.id, coach_id=engagement.coach_id, status=REQUESTED,
                            requested_at=now, downloads=0, include_notes=False)
    session.add(request)
    await session.flush()
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    coach = await queries.get_coach(session, engagement.coach_id)
    assert coachee is not None and coach is not None  # foreign keys
    _ = gettext_for(coach.language)
    values = {"name": coachee.name, "url": f"{settings.base_url}/engagements/{engagement.id}#your-data"}
    await _record(session, engagement, now, notices.notice(notices.line(ASKED, name=coachee.name)),
                  event="export_asked", direction="in", author="coachee", author_name=coachee.name,
                  external_id=f"export:{request.id}:asked")
    if settings.mail.enabled:
        await queue_notice(session, settings, now, to_address=coach.email, to_name=coach.name,
                           subject=_(COACH_SUBJECT) % values, text=_(COACH_BODY) % values,
                           engagement_id=engagement.id)
    log.info("export request %s for engagement %s", request.id, engagement.id)
    return request


async def _open_request(session: AsyncSession, coach: Coach, request_id: int) -> tuple[ExportRequest, Engagement]:
    request = await pq.get_export_request(session, coach.id, request_id)
    if request is None:
        raise NotFound("export_request_unknown", N_("This request does not exist."))
    if request.status != REQUESTED:
        raise Conflict("export_request_decided", N_("This request has been answered already."))
    engagement = await queries.get_engagement(session, coach.id, request.engagement_id)
    assert engagement is not None  # the request is the coach's
    return request, engagement


async def do_approve_export(session: AsyncSession, coach: Coach, request_id: int, *, settings: Settings,
                            now: datetime) -> ExportRequest:
    request, engagement = await _open_request(session, coach, request_id)
    request.status, request.decided_at = APPROVED, now
    request.salt = new_salt()
    token = download_token(request, settings.secret)
    assert token is not None
    request.token_hash = token_digest(token)
    request.expires_at = now + timedelta(hours=settings.export.link_hours)
    request.include_notes = settings.export.include_private_notes
    await session.flush()
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coachee is not None
    _ = gettext_for(engagement.language)
    values = {"name": coachee.name, "until": format_date(request.expires_at, engagement.time_zone,
                                                         engagement.language),
              "url": download_url(settings, token)}
    await _record(session, engagement, now, notices.notice(notices.line(READY, until=notices.at(request.expires_at))),
                  event="export_ready", direction="out", author="system", author_name="ecoach",
                  external_id=f"export:{request.id}:ready")
    if settings.mail.enabled and coachee.email:
        await queue_notice(session, settings, now, to_address=coachee.email, to_name=coachee.name,
                           subject=_(COACHEE_SUBJECT), text=_(COACHEE_BODY) % values,
                           engagement_id=engagement.id)
    log.info("export request %s approved by coach %s", request.id, coach.id)
    return request


def check_reason(reason: object) -> str:
    text = normalise_message(reason) if isinstance(reason, str) else ""
    if not text:
        raise ActionError("reason_missing", N_("Say why, so that your coachee knows."))
    if len(text) > MAX_REASON:
        raise ActionError("reason_too_long", N_("Keep the reason under %(limit)s characters."), limit=MAX_REASON)
    return text


async def do_decline_export(session: AsyncSession, coach: Coach, request_id: int, reason: object, *,
                            now: datetime) -> ExportRequest:
    text = check_reason(reason)
    request, engagement = await _open_request(session, coach, request_id)
    request.status, request.decided_at, request.reason = DECLINED, now, text
    await session.flush()
    # A notice, not an answer: the coachee's waiting messages stay waiting.
    await _record(session, engagement, now, notices.notice(notices.line(DECLINED_TEXT, reason=text)),
                  event="export_declined", direction="out", author="system", author_name="ecoach",
                  external_id=f"export:{request.id}:declined")
    return request


async def _record(session: AsyncSession, engagement: Engagement, now: datetime, notice: notices.Notice, *,
                  event: str, **fields: str) -> None:
    """A notice in the timeline, rendered for each reader (body_text keeps the
    engagement's language for search and the API)."""
    # force: a closed or paused engagement still answers for its data.
    entry = NewExchange(engagement_id=engagement.id, channel="system", force=True,
                        text=notices.render_text(notice, engagement.language, engagement.time_zone),
                        html=notices.render_html(notice, engagement.language, engagement.time_zone),
                        meta={"event": event, "notice": notice}, **fields)
    [result] = await record_exchanges(session, [entry], now, loaded={engagement.id: engagement})
    if isinstance(result, ActionError):
        raise result


async def check_download(session: AsyncSession, token: str, now: datetime) -> Download:
    """The approved request a download link stands for, or a clear reason why it does not work."""
    request = await pq.get_export_request_by_token(session, token_digest(token)) if looks_like_token(token) else None
    if request is None:
        raise NotFound("export_link_unknown", N_("This download link is not valid. Ask your coach for your data "
                                                 "again from your chat page."))
    engagement = await queries.get_engagement_by_id(session, request.engagement_id)
    assert engagement is not None  # foreign key
    if not link_works(request, now):
        error = NotFound("export_link_expired", N_("This download link has expired. Ask for your data again from "
                                                   "your chat page."))
        error.language = engagement.language
        raise error
    return Download(request, engagement)


async def do_count_download(session: AsyncSession, request: ExportRequest, now: datetime) -> None:
    request.downloads += 1
    request.last_download_at = now
    await session.flush()
