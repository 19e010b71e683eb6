"""Read queries (``get_*``). Every coach-facing query is scoped by coach id, so another
coach's data is simply not found."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, column, func, or_, select, table, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from ecoach.logbook.access import co_coaches_any, coached_by
from ecoach.logbook.models import (
    ApiToken,
    ChatLink,
    Coach,
    Coachee,
    Engagement,
    Exchange,
)


@dataclass(frozen=True)
class InboxRow:
    engagement: Engagement
    coachee_name: str
    remind_minutes: int | None = None  # the agreement's reminder lead: "due soon" within it

    def due_state(self, now: datetime) -> str | None:
        """on_track, due_soon or overdue for the earliest open commitment (None: none)."""
        from ecoach.core.agreements import DEFAULT_POLICY, due_state

        if self.engagement.status == "closed":
            return None
        lead = self.remind_minutes if self.remind_minutes is not None else DEFAULT_POLICY.remind_minutes
        return due_state(self.engagement.next_due_at, now, timedelta(minutes=lead))


async def get_coach(session: AsyncSession, coach_id: int) -> Coach | None:
    return await session.get(Coach, coach_id)


async def get_coach_by_email(session: AsyncSession, email: str) -> Coach | None:
    result = await session.execute(select(Coach).where(Coach.email == email.strip().lower()))
    return result.scalar_one_or_none()


async def get_coach_by_api_token(session: AsyncSession, digest: str) -> Coach | None:
    stmt = (
        select(Coach)
        .join(ApiToken, ApiToken.coach_id == Coach.id)
        .where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None))
    )
    return (await session.execute(stmt)).scalar_one_or_none()


def _inbox_order(stmt: Select) -> Select:  # type: ignore[type-arg]
    # The earliest due answer first; then waiting engagements (longest wait on top); then
    # the most recent activity. Matches the expression index ix_engagement_due.
    return stmt.order_by(
        Engagement.next_due_at.is_(None),
        Engagement.next_due_at.asc(),
        Engagement.waiting_since.is_(None),
        Engagement.waiting_since.asc(),
        Engagement.last_exchange_at.desc(),
        Engagement.id.desc(),
    )


def inbox_statement(
    coach_id: int, *, statuses: tuple[str, ...] = ("active", "paused"), limit: int = 50, offset: int = 0,
    exclude: Collection[int] = (), only: Collection[int] | None = None, co_coaching: bool = False,
) -> Select:  # type: ignore[type-arg]
    """The inbox query (also explained by bench/inbox_query.py). ``exclude``/``only``:
    engagements shown apart (those with a crisis signal, on top) or alone. ``co_coaching``: the
    coach co-coaches engagements of others too (``access.coached_by``); without it the query
    stays on the ordered index ``ix_engagement_due`` of the coach's own engagements."""
    from ecoach.logbook.availability_models import CoachAgreement, EngagementAgreement

    stmt = (
        select(Engagement, Coachee.name,
               func.coalesce(EngagementAgreement.remind_minutes, CoachAgreement.remind_minutes))
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .outerjoin(EngagementAgreement, EngagementAgreement.engagement_id == Engagement.id)
        .outerjoin(CoachAgreement, CoachAgreement.coach_id == Engagement.coach_id)
        .where(coached_by(coach_id) if co_coaching else Engagement.coach_id == coach_id,
               Engagement.status.in_(statuses))
    )
    if exclude:
        stmt = stmt.where(Engagement.id.not_in(sorted(exclude)))
    if only is not None:
        stmt = stmt.where(Engagement.id.in_(sorted(only)))
    return _inbox_order(stmt).limit(limit).offset(offset)


async def get_inbox(
    session: AsyncSession,
    coach_id: int,
    *,
    statuses: tuple[str, ...] = ("active", "paused"),
    limit: int = 50,
    offset: int = 0,
    exclude: Collection[int] = (),
    only: Collection[int] | None = None,
) -> list[InboxRow]:
    stmt = inbox_statement(coach_id, statuses=statuses, limit=limit, offset=offset, exclude=exclude, only=only,
                           co_coaching=await co_coaches_any(session, coach_id))
    rows = (await session.execute(stmt)).all()
    return [InboxRow(engagement=row[0], coachee_name=row[1], remind_minutes=row[2]) for row in rows]


async def get_engagement(
    session: AsyncSession, coach_id: int, engagement_id: int
) -> Engagement | None:
    """The engagement if this coach owns or co-coaches it (``ecoach.logbook.access``), else
    None (callers answer 404)."""
    stmt = select(Engagement).where(Engagement.id == engagement_id, coached_by(coach_id))
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_engagement_by_id(session: AsyncSession, engagement_id: int) -> Engagement | None:
    """Any coach's engagement: only for a caller that proved its right to it otherwise
    (a signed link)."""
    return await session.get(Engagement, engagement_id)


async def get_coachee(session: AsyncSession, coachee_id: int) -> Coachee | None:
    return await session.get(Coachee, coachee_id)


async def count_engagements_of(session: AsyncSession, coachee_id: int) -> int:
    stmt = select(func.count()).select_from(Engagement).where(Engagement.coachee_id == coachee_id)
    return int((await session.execute(stmt)).scalar_one())


async def get_timeline(
    session: AsyncSession,
    engagement_id: int,
    *,
    after_id: int | None = None,
    before_id: int | None = None,
    limit: int = 100,
    include_internal: bool = True,
) -> list[Exchange]:
    """Exchanges in logbook order. ``before_id`` pages backwards (newest page first)."""
    stmt = select(Exchange).where(Exchange.engagement_id == engagement_id)
    if not include_internal:
        stmt = stmt.where(Exchange.direction != "internal")
    if after_id is not None:
        stmt = stmt.where(Exchange.id > after_id).order_by(Exchange.id.asc()).limit(limit)
        return list((await session.execute(stmt)).scalars())
    if before_id is not None:
        stmt = stmt.where(Exchange.id < before_id)
    stmt = stmt.order_by(Exchange.id.desc()).limit(limit)
    rows = list((await session.execute(stmt)).scalars())
    rows.reverse()
    return rows


async def get_exchange_by_external_id(
    session: AsyncSession, engagement_id: int, external_id: str
) -> Exchange | None:
    stmt = select(Exchange).where(
        Exchange.engagement_id == engagement_id, Exchange.external_id == external_id
    )
    return (await session.execute(stmt)).scalar_one_or_none()


async def get_chat_link(session: AsyncSession, digest: str) -> tuple[ChatLink, Engagement] | None:
    """A chat link with its engagement and the engagement's coachee (``engagement.coachee``),
    in one statement: every chat handshake and coachee page starts here."""
    stmt = (
        select(ChatLink, Engagement)
        .join(Engagement, Engagement.id == ChatLink.engagement_id)
        .options(joinedload(Engagement.coachee))
        .where(ChatLink.token_hash == digest)
    )
    row = (await session.execute(stmt)).unique().first()
    return (row[0], row[1]) if row is not None else None


async def get_active_chat_link(session: AsyncSession, engagement_id: int, now: datetime) -> ChatLink | None:
    stmt = (
        select(ChatLink)
        .where(
            ChatLink.engagement_id == engagement_id,
            ChatLink.revoked_at.is_(None),
            or_(ChatLink.expires_at.is_(None), ChatLink.expires_at > now),
        )
        .order_by(ChatLink.id.desc())
        .limit(1)
    )
    return (await session.execute(stmt)).scalar_one_or_none()


@dataclass(frozen=True)
class SearchHit:
    exchange: Exchange
    coachee_name: str


async def search_logbook(
    session: AsyncSession, coach_id: int, query: str, *, limit: int = 50
) -> list[SearchHit]:
    """Full-text search over one coach's logbook: every word must match (prefixes too).

    The index holds keyed tokens, not words (``core.crypto.text_tokens``): the query's
    words become tokens with the same key. A word longer than its token is checked in
    the opened text of the rows the tokens found, page by page, until ``limit`` match."""
    from ecoach.core.crypto import matches, query_tokens
    from ecoach.logbook.keyring import keyring_of

    tokens, longer = query_tokens(await keyring_of(session).search_key(session), query)
    if not tokens:
        return []
    hits: list[SearchHit] = []
    before: int | None = None
    page = limit if not longer else max(limit, 200)
    while len(hits) < limit:
        rows = (await session.execute(_search_statement(session, coach_id, tokens, before, page))).all()
        hits += [SearchHit(exchange=r[0], coachee_name=r[1]) for r in rows
                 if not longer or matches(r[0].body_text, longer)]
        if len(rows) < page:
            break
        before = rows[-1][0].id
    return hits[:limit]


def _search_statement(session: AsyncSession, coach_id: int, tokens: list[str], before: int | None,
                      limit: int) -> Select:  # type: ignore[type-arg]
    if session.bind.dialect.name == "sqlite":
        # Drive the query from the FTS index in rowid (= logbook) order, newest first, so
        # LIMIT stops early even when a token is everywhere.
        fts = table("exchange_fts", column("rowid"))
        stmt = (
            select(Exchange, Coachee.name)
            .select_from(fts)
            .join(Exchange, Exchange.id == fts.c.rowid)
            .where(text("exchange_fts MATCH :q").bindparams(q=" ".join(tokens)))
            .order_by(fts.c.rowid.desc())
        )
    else:
        stmt = (
            select(Exchange, Coachee.name)
            .where(text("to_tsvector('simple', exchange.search_tokens) @@ to_tsquery('simple', :q)")
                   .bindparams(q=" & ".join(tokens)))
            .order_by(Exchange.id.desc())
        )
    if before is not None:
        stmt = stmt.where(Exchange.id < before)
    return (
        stmt.join(Engagement, Engagement.id == Exchange.engagement_id)
        .join(Coachee, Coachee.id == Engagement.coachee_id)
        .where(coached_by(coach_id))
        .limit(limit)
    )


@dataclass(frozen=True)
class AttachmentInfo:
    id: int
    exchange_id: int
    filename: str
    content_type: str
    size: int


async def get_attachment_infos(session: AsyncSession, exchange_ids: list[int]) -> dict[int, list[AttachmentInfo]]:
    """Attachment names and sizes for a page of the timeline (not their data)."""
    from ecoach.logbook.mail_models import Attachment

    if not exchange_ids:
        return {}
    stmt = (
        select(Attachment.id, Attachment.exchange_id, Attachment.filename, Attachment.content_type, Attachment.size)
        .where(Attachment.exchange_id.in_(exchange_ids))
        .order_by(Attachment.id)
    )
    found: dict[int, list[AttachmentInfo]] = {}
    for row in await session.execute(stmt):
        found.setdefault(row.exchange_id, []).append(AttachmentInfo(*row))
    return found


async def get_notices(session: AsyncSession, exchange_ids: list[int]) -> dict[int, dict]:  # type: ignore[type-arg]
    """The notices (core.notices) among these exchanges, by id: the inbox shows a row's
    last notice in the coach's language. Only ecoach's own entries can hold one."""
    ids = [i for i in exchange_ids if i]
    if not ids:
        return {}
    stmt = select(Exchange).where(
        Exchange.id.in_(ids), or_(Exchange.author == "system", Exchange.channel.in_(("video", "phone", "system"))))
    found = {}
    for row in (await session.execute(stmt)).scalars():
        notice = (row.meta or {}).get("notice")
        if isinstance(notice, dict):
            found[row.id] = notice
    return found
