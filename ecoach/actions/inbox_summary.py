"""The inbox summary of each engagement a batch of new exchanges touched: last exchange,
snippet, waiting time, unread count and earliest due time, in one executemany UPDATE per
kind of change (``record_exchanges``' hot path: the chat's every batch).
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Boolean, bindparam, case, func, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.commitments import NEXT_DUE
from ecoach.core.inbox import fold
from ecoach.core.text import snippet
from ecoach.core.types import Direction
from ecoach.logbook.keyring import SealingKey
from ecoach.logbook.models import Engagement, Exchange
from ecoach.logbook.sealed import FieldSpec, spec_of


@cache
def _snippet_spec() -> FieldSpec:
    return spec_of(Engagement.last_snippet)


_table = Engagement.__table__
_COMMON = dict(
    last_exchange_id=bindparam("p_last_id"),
    last_exchange_at=bindparam("p_last_at", type_=Engagement.last_exchange_at.type),
    last_channel=bindparam("p_last_channel"),
    last_direction=bindparam("p_last_direction"),
    last_snippet_sealed=bindparam("p_last_snippet", type_=Engagement.last_snippet.type),
    last_inbound_channel=func.coalesce(bindparam("p_inbound_channel"), _table.c.last_inbound_channel),
    # The earliest open commitment, when this batch's commitments moved it (else as it was).
    next_due_at=case((bindparam("p_due_moved", type_=Boolean), NEXT_DUE), else_=_table.c.next_due_at),
)
_WAITING = bindparam("p_waiting", type_=Engagement.waiting_since.type)
# No answer in the run: keep an older wait, add to unread (atomic under concurrency).
_ADD = (
    update(_table)
    .where(_table.c.id == bindparam("p_id"))
    .values(**_COMMON, waiting_since=func.coalesce(_table.c.waiting_since, _WAITING),
            unread_count=_table.c.unread_count + bindparam("p_unread"))
)
# An answer in the run: waiting and unread restart after it.
_RESET = (
    update(_table)
    .where(_table.c.id == bindparam("p_id"))
    .values(**_COMMON, waiting_since=_WAITING, unread_count=bindparam("p_unread"))
)


async def update_summaries(
    session: AsyncSession, created: list[Exchange], keys: dict[int, SealingKey], due_moved: set[int]
) -> set[int]:
    """One executemany UPDATE per kind of change; returns the engagements it updated."""
    runs: dict[int, list[Exchange]] = {}
    for ex in created:
        if ex.direction != Direction.internal.value:
            runs.setdefault(ex.engagement_id, []).append(ex)
    params: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for engagement_id, run in runs.items():
        change = fold([(ex.direction, ex.channel, ex.created_at, ex.author) for ex in run])
        last = run[-1]
        params[change.reset].append(
            dict(
                p_id=engagement_id,
                p_last_id=last.id,
                p_last_at=last.created_at,
                p_last_channel=last.channel,
                p_last_direction=last.direction,
                p_last_snippet=keys[engagement_id].seal(_snippet_spec(), snippet(last.body_text, 200)),
                p_inbound_channel=change.last_inbound_channel,
                p_waiting=change.first_waiting_at,
                p_unread=change.unread,
                p_due_moved=engagement_id in due_moved,
            )
        )
    connection = await session.connection()
    for reset, batch in params.items():
        if batch:
            await connection.execute(_RESET if reset else _ADD, batch)
    return set(runs)
