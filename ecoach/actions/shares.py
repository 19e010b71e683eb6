"""Sharing a library resource into an engagement, and the coachee's answers to exercises.

A share is an exchange in the timeline (by chat, or by mail through the outbox) plus a
copy of the resource as it was sent (``resource_share``, sealed with the engagement's
key); a shared file is an attachment of that exchange, as a mail's is. An exercise is
answered once, in the browser: the answers are an exchange of their own (so the coach
reads them in the timeline) and a row of ``exercise_answer``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.chat_files import ReadyFile, check_upload, do_store_file, file_meta
from ecoach.actions.engagements import chat_token_of
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import NewExchange, Recorded, check_can_write, record_exchanges
from ecoach.actions.replies import check_channel
from ecoach.core.i18n import gettext_for
from ecoach.logbook import queries, resource_queries
from ecoach.logbook.models import Coach, Engagement
from ecoach.logbook.resource_models import ExerciseAnswer, Resource, ResourceShare
from ecoach.settings import Settings

log = logging.getLogger(__name__)

EXERCISE_HINT = N_("This is an exercise: open it on your chat page to answer it.")
FILE_BY_LINK = N_("The file is too large to send by mail: download it from your chat page.")
CHAT_PAGE = N_("Your chat page: %(url)s")
ANSWERED = N_("Answers to the exercise \"%(title)s\"")


@dataclass(frozen=True)
class ShareRequest:
    coach: Coach
    engagement: Engagement
    resource: Resource
    channel: str
    client_id: str


def share_text(resource: Resource, language: str, *, link: str | None = None, file_by_link: bool = False) -> str:
    """What the coachee reads in the timeline (and the mail): the title, the text or link,
    and what to do with an exercise or a file."""
    _ = gettext_for(language)
    parts = [resource.title]
    parts += [p for p in (resource.body, resource.url) if p]
    if resource.kind == "file" and resource.file_name:
        parts.append(resource.file_name)
    if resource.kind == "exercise":
        parts.append(_(EXERCISE_HINT))
    if file_by_link:
        parts.append(_(FILE_BY_LINK))
    if link and (resource.kind == "exercise" or file_by_link):
        parts.append(_(CHAT_PAGE) % {"url": link})
    return "\n\n".join(parts)


async def ready_file_of(resource: Resource, settings: Settings) -> ReadyFile | None:
    """A library file as a chat file (checked again: the limits may have changed since)."""
    if resource.kind != "file" or resource.file_data is None or resource.file_name is None:
        return None
    return await check_upload(resource.file_name, resource.file_data, settings.files.rules)


async def do_share(session: AsyncSession, request: ShareRequest, file: ReadyFile | None, *,
                   settings: Settings, now: datetime) -> Recorded:
    """Share one resource: an exchange by chat or mail, the copy, the file. Sharing again
    with the same client id returns the first share."""
    channel = check_channel(request.channel)
    if channel == "note":
        raise ActionError("share_channel", N_("A resource is shared by chat or by mail."))
    engagement, resource = request.engagement, request.resource
    check_can_write(engagement, "out")
    meta: dict[str, Any] = {"share": {"kind": resource.kind}, **(file_meta(file) if file else {})}
    if channel == "mail":
        recorded = await _share_by_mail(session, request, file, meta, settings, now)
    else:
        [result] = await record_exchanges(session, [NewExchange(
            engagement_id=engagement.id, channel="chat", direction="out", author="coach",
            author_name=request.coach.name, text=share_text(resource, engagement.language),
            external_id=f"share:{request.client_id}", meta=meta)], now, loaded={engagement.id: engagement})
        if isinstance(result, ActionError):
            raise result
        recorded = result
    if recorded.created:
        attachment_id = await do_store_file(session, recorded.exchange.id, file) if file else None
        session.add(ResourceShare(
            engagement_id=engagement.id, exchange_id=recorded.exchange.id, resource_id=resource.id,
            kind=resource.kind, title=resource.title, body=resource.body, url=resource.url,
            questions=resource.questions, attachment_id=attachment_id, shared_at=now))
        await session.flush()
    return recorded


async def _share_by_mail(session: AsyncSession, request: ShareRequest, file: ReadyFile | None,
                         meta: dict[str, Any], settings: Settings, now: datetime) -> Recorded:
    from ecoach.actions.mail_reply import do_send_mail_reply

    engagement, resource = request.engagement, request.resource
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    assert coachee is not None
    link = await _chat_url(session, engagement, settings, now)
    needs_link = resource.kind == "exercise" or (
        file is not None and file.checked.size > settings.files.mail_attach_max_bytes)
    if needs_link and link is None:
        raise ActionError("share_needs_link", N_("This coachee has no active chat link. Make one first: the "
                                                 "mail points to the chat page."))
    by_link = file is not None and file.checked.size > settings.files.mail_attach_max_bytes
    attachments = [] if file is None or by_link else [
        (file.checked.name, file.checked.content_type.split(";")[0], file.data)]
    return await do_send_mail_reply(
        session, engagement=engagement, coachee=coachee, coach=request.coach,
        text=share_text(resource, engagement.language, link=link, file_by_link=by_link),
        client_id=request.client_id, mail=settings.mail, secret=settings.secret, now=now,
        attachments=attachments, extra_meta=meta, external_id=f"share:{request.client_id}")


async def _chat_url(session: AsyncSession, engagement: Engagement, settings: Settings, now: datetime) -> str | None:
    link = await queries.get_active_chat_link(session, engagement.id, now)
    token = chat_token_of(link, settings.secret) if link else None
    return f"{settings.base_url}/c/{token}" if token else None


# --- answers -------------------------------------------------------------------------------


def check_answers(share: ResourceShare, fields: Any, max_chars: int) -> list[str]:
    """One answer per question (``answer_0``, ``answer_1``, ...); at least one filled in."""
    questions = share.questions or []
    answers = []
    for i in range(len(questions)):
        value = fields.get(f"answer_{i}", "")
        value = value.strip() if isinstance(value, str) else ""
        if len(value) > max_chars:
            raise ActionError("answer_too_long", N_("An answer is %(length)s characters long; the limit is "
                                                    "%(limit)s."), length=len(value), limit=max_chars)
        answers.append(value)
    if not any(answers):
        raise ActionError("answers_empty", N_("Answer at least one question before you send."))
    return answers


def answers_text(share: ResourceShare, answers: list[str], language: str) -> str:
    _ = gettext_for(language)
    blocks = [_(ANSWERED) % {"title": share.title}]
    blocks += [f"{q}\n{a or '—'}" for q, a in zip(share.questions or [], answers)]
    return "\n\n".join(blocks)


async def do_answer_exercise(session: AsyncSession, engagement: Engagement, share: ResourceShare,
                             answers: list[str], *, author_name: str, now: datetime) -> Recorded:
    """The coachee's answers, once: into the timeline and beside the share."""
    if share.kind != "exercise":
        raise NotFound("exercise_unknown", N_("This exercise does not exist."))
    if share.answered_at is not None:
        raise Conflict("exercise_answered", N_("You answered this exercise already."))
    check_can_write(engagement, "in")
    [result] = await record_exchanges(session, [NewExchange(
        engagement_id=engagement.id, channel="chat", direction="in", author="coachee", author_name=author_name,
        text=answers_text(share, answers, engagement.language), external_id=f"answer:{share.id}",
        meta={"answer": {"share": share.exchange_id}})], now, loaded={engagement.id: engagement})
    if isinstance(result, ActionError):
        raise result
    if not result.created:
        raise Conflict("exercise_answered", N_("You answered this exercise already."))
    session.add(ExerciseAnswer(share_id=share.id, engagement_id=engagement.id, exchange_id=result.exchange.id,
                               answers=answers, answered_at=now))
    share.answered_at = now
    await session.flush()
    return result


async def get_share(session: AsyncSession, engagement_id: int, exchange_id: int) -> ResourceShare:
    found = await resource_queries.get_share_by_exchange(session, engagement_id, exchange_id)
    if found is None:
        raise NotFound("share_unknown", N_("This shared resource does not exist."))
    return found
