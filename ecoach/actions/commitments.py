"""Response-time commitments on the logbook's write path.

``do_track_commitments`` runs inside ``record_exchanges`` (same transaction) for every
batch of new exchanges. Set-based, whatever the batch size:
- an inbound chat or mail that needs an answer (not auto-submitted mail) in an active
  engagement gets a commitment, due after the agreed working time in the coach's calendar for its channel
  (reading agreements and calendars: two SELECTs when the process's cache does not hold
  them, only when the batch has such mail or chat; then one multi-row INSERT);
- the coach's answer on any channel (out, by the coach: not a note, not a system message)
  fulfils the engagement's open commitments received before it (one UPDATE);
- ``engagement.next_due_at`` becomes the earliest open due time, which the inbox sorts
  by: the engagements whose due time may have moved are returned, and the caller's
  inbox-summary UPDATE recomputes it (``NEXT_DUE``) in the same statement.
When an engagement's earliest due time moves earlier (usually: a wait begins), its check
(reminder, then breach) is scheduled through the task runner, and with acknowledgements
on, the coachee is told the promised time once per wait. Fulfilled commitments leave
their pending check to find nothing to do.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, select, update
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.agreements import ANSWERABLE, Policy, commitment_time
from ecoach.core.working_time import NoWorkingTime, WorkingCalendar
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.driver_rows import to_driver, untyped
from ecoach.logbook.agreement_cache import get_policies_and_calendars
from ecoach.logbook.models import Engagement, Exchange

log = logging.getLogger(__name__)

CHECK_TASK = "commitments.check"
ACK_TASK = "commitments.acknowledge"


def check_key(engagement_id: int) -> str:
    return f"commitment-check:{engagement_id}"


def needs_answer(ex: Exchange) -> bool:
    return (ex.direction == "in" and ex.channel in ANSWERABLE
            and not (ex.meta or {}).get("auto_submitted"))


def is_answer(ex: Exchange) -> bool:
    return ex.direction == "out" and ex.author == "coach"


def compute_due(calendar: WorkingCalendar, policy: Policy, channel: str, received: datetime) -> datetime | None:
    """When the answer to a message received then is due; None without a commitment."""
    within = policy.within(channel)
    if within is None:
        return None
    granted = commitment_time(within[0], within[1], calendar)
    try:
        return calendar.add(received, granted)
    except NoWorkingTime:
        # A calendar that is closed for years: promise calendar time rather than nothing.
        log.warning("no working time ahead for a %s commitment; counting calendar time", channel)
        return received + (granted or timedelta(hours=within[0]))


_c = Commitment.__table__


def _fulfil(answers: dict[int, Exchange]):  # type: ignore[no-untyped-def]
    """One UPDATE for the batch: each engagement's open commitments received before its
    answer (a later inbound in the same batch stays open) are fulfilled by that answer."""
    answer_of = case({eid: ex.id for eid, ex in answers.items()}, value=_c.c.engagement_id)
    answered_at = case({eid: literal(ex.created_at, _c.c.fulfilled_at.type) for eid, ex in answers.items()},
                       value=_c.c.engagement_id)
    return (
        update(_c)
        .where(_c.c.engagement_id.in_(sorted(answers)), _c.c.state == "open", _c.c.exchange_id < answer_of)
        .values(state="fulfilled", fulfilled_by=answer_of, fulfilled_at=answered_at)
    )


# The earliest open due time: one lookup in the partial index ix_commitment_open.
NEXT_DUE = (
    select(func.min(_c.c.due_at))
    .where(and_(_c.c.engagement_id == Engagement.__table__.c.id, _c.c.state == "open"))
    .scalar_subquery()
)


@dataclass(frozen=True)
class _Context:
    policies: dict[int, Policy]
    calendars: dict[tuple[int, str], WorkingCalendar]


async def do_track_commitments(
    session: AsyncSession, created: list[Exchange], engagements: dict[int, Engagement], now: datetime
) -> set[int]:
    """See the module docstring. ``created``: the batch's new exchanges in logbook order;
    ``engagements``: their engagements as loaded at the start of the batch. Returns the
    engagements whose ``next_due_at`` the caller must set to ``NEXT_DUE`` (before commit;
    folded into its own UPDATE, one round trip fewer per batch)."""
    asks = [ex for ex in created if needs_answer(ex)]
    answers: dict[int, Exchange] = {}
    for ex in created:
        if is_answer(ex):
            answers[ex.engagement_id] = ex  # the last answer in the batch counts
    if not asks and not answers:
        return set()
    context = await _load(session, asks, engagements, now) if asks else _Context({}, {})
    rows = _rows(asks, engagements, context)
    connection = await session.connection()
    if rows:  # executemany: compiled once and cached, unlike a multi-row .values(list)
        await connection.execute(insert(untyped(_c)), _driver_rows(rows, connection.dialect))
    if answers:
        await connection.execute(_fulfil(answers))
    await _schedule(session, rows, answers, engagements, context.policies, now)
    return {row["engagement_id"] for row in rows} | set(answers)


def _driver_rows(rows: list[dict[str, Any]], dialect: Dialect) -> list[dict[str, Any]]:
    """The rows with their times in the driver's form (``logbook.driver_rows``): the chat's
    hot path inserts one per coachee message."""
    received, due = _c.c.received_at, _c.c.due_at
    return [dict(row, received_at=to_driver(received, dialect, row["received_at"]),
                 due_at=to_driver(due, dialect, row["due_at"])) for row in rows]


async def update_next_due(session: AsyncSession, engagement_ids: set[int]) -> None:
    """``next_due_at`` recomputed on its own (engagements no summary UPDATE touches)."""
    if engagement_ids:
        await session.execute(update(Engagement.__table__)
                              .where(Engagement.__table__.c.id.in_(sorted(engagement_ids)))
                              .values(next_due_at=NEXT_DUE))


async def _load(
    session: AsyncSession, asks: list[Exchange], engagements: dict[int, Engagement], now: datetime
) -> _Context:
    # Usually from the process's cache (logbook/agreement_cache.py): no statement at all.
    coach_of = {ex.engagement_id: engagements[ex.engagement_id].coach_id for ex in asks}
    coach_channels = {(coach_of[ex.engagement_id], ex.channel) for ex in asks}
    policies, calendars = await get_policies_and_calendars(session, coach_of, coach_channels,
                                                           since=now - timedelta(days=1))
    return _Context(policies, calendars)


def _rows(asks: list[Exchange], engagements: dict[int, Engagement], context: _Context) -> list[dict[str, Any]]:
    rows = []
    # A batch's messages share their received time (the batch's ``now``), and most share a
    # coach: the due time is worked out once per (coach, channel, agreement, time), not per
    # message (the calendar walk is most of this function's time).
    dues: dict[tuple[int, str, object, datetime], datetime | None] = {}
    for ex in asks:
        if engagements[ex.engagement_id].status != "active":
            continue  # a paused engagement's agreement rests (its mail is still recorded)
        coach_id = engagements[ex.engagement_id].coach_id
        policy = context.policies.get(ex.engagement_id)
        calendar = context.calendars.get((coach_id, ex.channel))
        if policy is None or calendar is None:
            continue
        known = (coach_id, ex.channel, policy.within(ex.channel), ex.created_at)
        if known not in dues:
            dues[known] = compute_due(calendar, policy, ex.channel, ex.created_at)
        due = dues[known]
        if due is None:
            continue
        rows.append(dict(engagement_id=ex.engagement_id, coach_id=coach_id, exchange_id=ex.id,
                         channel=ex.channel, received_at=ex.created_at, due_at=due, state="open"))
    return rows


async def _schedule(
    session: AsyncSession, rows: list[dict[str, Any]], answers: dict[int, Exchange],
    engagements: dict[int, Engagement], policies: dict[int, Policy], now: datetime,
) -> None:
    """Schedule the check of each engagement whose earliest due time moved earlier (at
    its reminder time), and the acknowledgement of each wait that began (when agreed).
    One statement per such engagement: usually only the first message of a wait."""
    from ecoach.logbook.tasks import schedule_task

    still_open: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        answer = answers.get(row["engagement_id"])
        if answer is None or answer.id < row["exchange_id"]:
            still_open.setdefault(row["engagement_id"], []).append(row)
    for eid, open_rows in still_open.items():
        earliest = min(r["due_at"] for r in open_rows)
        before = None if eid in answers else engagements[eid].next_due_at
        if before is not None and before <= earliest:
            continue  # its check is scheduled already, at or before this
        policy = policies[eid]
        remind_at = max(now, earliest - timedelta(minutes=policy.remind_minutes))
        await schedule_task(session, CHECK_TASK, remind_at, {"engagement_id": eid}, key=check_key(eid), now=now)
        if before is None and policy.acknowledge:
            first = min(r["exchange_id"] for r in open_rows)
            await schedule_task(session, ACK_TASK, now, {"engagement_id": eid, "exchange_id": first},
                                key=f"commitment-ack:{eid}", now=now)
