"""Recording the audit trail: who viewed, searched, exported, erased, changed agreements
or tokens, logged in, administered — when, and from where.

Actions record what they do with ``record_audit(session, kind, ...)`` in the unit of work
that does it: the entry is appended to the hash chain just before that transaction
commits (``ecoach.logbook.audit_chain``), so it exists exactly when the change does.
Reads are recorded by the handlers' query path through ``do_note_view`` and
``do_note_search`` (a search records that it happened and how many results it had,
never the words). Entries are content-free (``ecoach.core.audit.check_detail``).

*From where* comes from the request: the web layer sets the ``Origin`` (the client's
address as the login code computes it, with ``trusted_proxies``; a device summary from
the User-Agent; the logged-in coach as the actor) for the task that serves it
(``acting``), the command line sets ``via="cli"``. Actions need not pass it along.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.core.audit import GROUP_OF, AuditError, check_detail, check_kind
from ecoach.logbook.audit_chain import PendingEntry, add_pending

UNSET: Any = object()


@dataclass(frozen=True)
class Origin:
    """Where the current work comes from."""

    via: str = "system"  # web, api, cli, task, system
    client: str = ""  # the client's address
    device: str = ""  # "Firefox / Linux" (ecoach.core.devices)
    actor_id: int | None = None  # the logged-in coach (or the API token's)
    at: datetime | None = None  # when the request came (for actions that take no ``now``)


_ORIGIN: ContextVar[Origin] = ContextVar("ecoach_audit_origin", default=Origin())


def current_origin() -> Origin:
    return _ORIGIN.get()


def set_origin(origin: Origin) -> None:
    """For the rest of the current task (a request's handler task, a command)."""
    _ORIGIN.set(origin)


def set_actor(actor_id: int | None) -> None:
    """The logged-in coach, once the request has been authenticated."""
    _ORIGIN.set(replace(_ORIGIN.get(), actor_id=actor_id))


@contextmanager
def acting(origin: Origin) -> Iterator[Origin]:
    token = _ORIGIN.set(origin)
    try:
        yield origin
    finally:
        _ORIGIN.reset(token)


def record_audit(session: AsyncSession, kind: str, /, *, coach_id: int | None = UNSET, engagement_id: int | None = None,
                 actor_id: int | None = UNSET, now: datetime | None = None, **detail: Any) -> None:
    """Add an entry to the trail when this session's transaction commits.

    ``coach_id``: whose trail it belongs to (default: the actor). ``actor_id``: who did it
    (default: the logged-in coach of the request; None for a coachee or the system).
    ``detail``: numbers, booleans and short codes only (AuditError otherwise)."""
    origin = _ORIGIN.get()
    actor = origin.actor_id if actor_id is UNSET else actor_id
    at = now or origin.at
    if at is None:
        raise AuditError(f"audit entry {kind!r} has no time: pass now= or set the origin")
    add_pending(session.sync_session, PendingEntry(
        at=at, kind=check_kind(kind), actor_id=actor, coach_id=actor if coach_id is UNSET else coach_id,
        engagement_id=engagement_id, detail=check_detail(detail), via=origin.via, client=origin.client[:64],
        device=origin.device[:60]))


async def do_note_view(session: AsyncSession, kind: str, coach_id: int, /, *, engagement_id: int | None = None,
                       now: datetime | None = None, **detail: Any) -> None:
    """A coach looked at something personal (an engagement, a timeline, an attachment,
    an original mail, the quarantine)."""
    if GROUP_OF.get(kind) != "view":
        raise AuditError(f"{kind!r} is not a view")
    record_audit(session, kind, coach_id=coach_id, engagement_id=engagement_id, now=now, **detail)


async def do_note_search(session: AsyncSession, coach_id: int, /, *, results: int, now: datetime | None = None) -> None:
    """A search happened, with this many results; the words are never kept."""
    record_audit(session, "search", coach_id=coach_id, now=now, results=results)
