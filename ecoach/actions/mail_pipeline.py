"""Inbound mail, as a named list of batch steps (the shape of Mailman's
``pipelines/builtin.py``):

    dedupe -> bounce -> route -> hold -> record -> crisis -> auto_replies -> ledger -> announce

Every mail ends as exactly one ``inbound_mail`` row: an exchange in a logbook, a matched
bounce, a quarantine entry with its reason, or nothing new for a duplicate. Nothing is
dropped. Each step takes the whole ``Batch`` and settles some of its mails, so a batch
costs a fixed handful of statements (one dedupe query, two routing queries, one
``record_exchanges``, one insert per table), not a dozen per mail; the outcomes are those
of taking the mails one by one, in order. Each step can be run (and tested) alone on a
``Batch`` in the state the steps before it leave.

The steps work in the caller's transaction and register the events they cause (new
exchanges, delivery failures, quarantine counts); ``ecoach.actions.mail_inbound`` is the
transports' entry point that commits.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.absence import ask_for, plan_absence_replies, queue_absence_reply
from ecoach.actions.crisis import Signalled, check_crisis, do_flag_crisis
from ecoach.actions.exchanges import Recorded
from ecoach.actions.mail_held import count_held_by_coach, do_hold_mails, do_take_bounce, get_default_owner
from ecoach.actions.mail_outbox import DeliveryChange
from ecoach.actions.mail_record import PlacedMail, record_mails
from ecoach.actions.mail_routing import Route, route_mails
from ecoach.actions.notify import do_reply_oversized, recently_auto_replied
from ecoach.actions.unit import emit
from ecoach.core import topics
from ecoach.core.crisis.resources import CrisisResource
from ecoach.core.mail.parse import ParsedMail
from ecoach.logbook.keyring import keyring_of
from ecoach.logbook.mail_models import InboundMail, Quarantine
from ecoach.logbook.models import Coachee, Engagement
from ecoach.settings import MailSettings

log = logging.getLogger(__name__)

CHUNK = 500  # dedupe keys per IN (...)


@dataclass
class Outcome:
    kind: str  # exchange, duplicate, bounce, quarantine
    mail: ParsedMail
    recorded: Recorded | None = None
    quarantine: Quarantine | None = None
    engagement: Engagement | None = None
    coachee: Coachee | None = None
    bounced: int = 0
    queued: int = 0  # mails queued in the outbox (auto-reply, notifications)
    changes: list[DeliveryChange] = field(default_factory=list)  # what a bounce changed
    crisis: tuple[CrisisResource, ...] = ()  # flagged: the resources its automatic replies name


@dataclass
class Batch:
    """Mails on their way through the pipeline, and what the steps decided so far."""

    session: AsyncSession
    raws: list[bytes]
    mails: list[ParsedMail]
    mail: MailSettings
    secret: str
    now: datetime
    source: str
    # The coach who sees unplaceable mail (a mailbox's coach_email); with ``default_owner``
    # and none given, the server's only coach (looked up only when there is such mail).
    owner_coach_id: int | None = None
    default_owner: bool = False
    outcomes: list[Outcome | None] = field(default_factory=list)
    todo: list[int] = field(default_factory=list)  # positions still to be routed, in order
    held: list[tuple[int, Route]] = field(default_factory=list)  # for the quarantine
    placeable: list[tuple[int, Route]] = field(default_factory=list)  # for the logbook
    content_keys: list[str] = field(default_factory=list)  # per mail, by the dedupe step
    variant_of: dict[int, int] = field(default_factory=dict)  # same Message-ID as that mail of the batch
    base_url: str = ""  # for links in the coach's crisis alert

    def __post_init__(self) -> None:
        if not self.outcomes:
            self.outcomes = [None] * len(self.mails)

    def decided(self) -> list[Outcome]:
        """Every mail's outcome, in order (after the whole pipeline)."""
        done = [o for o in self.outcomes if o is not None]
        assert len(done) == len(self.mails), "a mail left the pipeline without an outcome"
        return done


Step = Callable[[Batch], Awaitable[None]]


async def dedupe(batch: Batch) -> None:
    """A mail taken in before (or earlier in this batch) is a duplicate; the rest go on.

    A mail is known by a keyed hash of its Message-ID (or of its bytes), never the id
    itself (``dedupe_key`` becomes that hash); rows from before encryption hold the id as
    it was, and are found by it. A mail whose Message-ID was seen but whose content
    (``ParsedMail.content_digest``) differs is no duplicate: it goes on under a key of its
    own (id and content), flagged ``possible_duplicate`` for the coach to see."""
    blind = await keyring_of(batch.session).purpose_key(batch.session, "blind")
    given = {parsed.dedupe_key: parsed.dedupe_key if parsed.dedupe_key.startswith("b:")  # a batch run again
             else "b:" + blind.blind("dedupe", parsed.dedupe_key) for parsed in batch.mails}
    batch.content_keys = ["b:" + blind.blind("content", parsed.content_digest()) for parsed in batch.mails]
    stored = await _stored(batch, sorted({*given, *given.values()}))
    for old, new in given.items():  # a key from before encryption and its hash are one mail
        if old in stored or new in stored:
            stored[old] = stored[new] = stored.get(old, _Seen()).merge(stored.get(new, _Seen()))

    def variant(key: str, content: str) -> str:
        return "b:" + blind.blind("dedupe", f"{key}#{content}")

    stored.update(await _stored(batch, sorted(
        {variant(given[p.dedupe_key], batch.content_keys[i]) for i, p in enumerate(batch.mails)
         if given[p.dedupe_key] in stored and not stored[given[p.dedupe_key]].has(batch.content_keys[i])})))
    batch.todo = []
    for i, parsed in enumerate(batch.mails):
        key, content = given[parsed.dedupe_key], batch.content_keys[i]
        first = stored.get(key)
        if first is not None and not first.has(content):  # the same Message-ID, other content
            key = variant(key, content)
            if "possible_duplicate" not in parsed.flags:
                parsed.flags.append("possible_duplicate")
            parsed.duplicate_of = parsed.duplicate_of or first.exchange_id
            if parsed.duplicate_of is None and first.position is not None:
                batch.variant_of[i] = first.position  # its id is known once that one is recorded
        parsed.dedupe_key = key
        if key in stored:
            batch.outcomes[i] = Outcome("duplicate", parsed)
        else:
            stored[key] = _Seen({content}, position=i)
            batch.todo.append(i)


@dataclass
class _Seen:
    """What was stored under one dedupe key: the content keys (None: from before they
    were kept, so any content counts as the same) and the first exchange."""

    contents: set[str | None] = field(default_factory=set)
    exchange_id: int | None = None
    position: int | None = None  # a mail earlier in this batch

    def has(self, content: str) -> bool:
        return content in self.contents or None in self.contents

    def merge(self, other: _Seen) -> _Seen:
        return _Seen(self.contents | other.contents, self.exchange_id or other.exchange_id)


async def _stored(batch: Batch, keys: list[str]) -> dict[str, _Seen]:
    found: dict[str, _Seen] = {}
    m = InboundMail
    for start in range(0, len(keys), CHUNK):
        stmt = select(m.dedupe_key, m.content_key, m.exchange_id).where(m.dedupe_key.in_(keys[start:start + CHUNK]))
        for key, content, exchange_id in (await batch.session.execute(stmt)).all():
            seen = found.setdefault(key, _Seen())
            seen.contents.add(content)
            seen.exchange_id = seen.exchange_id or exchange_id
    return found


async def bounce(batch: Batch) -> None:
    """A delivery report about a mail we sent fails it (or is kept, for a delay); one about
    no mail of ours is held."""
    for i in [i for i in batch.todo if batch.mails[i].is_bounce]:
        found = await do_take_bounce(batch.session, batch.mails[i], batch.now)
        if found is None:
            batch.held.append((i, Route(None, None, "bounce_unmatched", batch.owner_coach_id)))
        else:
            batch.outcomes[i] = Outcome("bounce", batch.mails[i], bounced=found.bounced, changes=found.changes)
    batch.todo = [i for i in batch.todo if not batch.mails[i].is_bounce]


async def route(batch: Batch) -> None:
    """Each remaining mail to its engagement (token, else known sender), sender verified;
    what cannot be placed safely is held with its reason."""
    routes = await route_mails(batch.session, [batch.mails[i] for i in batch.todo], batch.mail, batch.secret)
    for i, found in zip(batch.todo, routes):
        if found.reason is None and found.engagement is not None and found.coachee is not None:
            batch.placeable.append((i, found))
        else:
            owner = found.coach_id if found.coach_id is not None else batch.owner_coach_id
            batch.held.append((i, Route(found.engagement, found.coachee, found.reason, owner)))
    batch.todo = []


async def hold(batch: Batch) -> None:
    """Held mail into the quarantine, whole, for its coach to assign, release or discard."""
    held = sorted(batch.held, key=lambda h: h[0])
    if batch.default_owner and batch.owner_coach_id is None and any(r.coach_id is None for _, r in held):
        owner = await get_default_owner(batch.session)
        held = [(i, r if r.coach_id is not None else Route(r.engagement, r.coachee, r.reason, owner))
                for i, r in held]
    entries = await do_hold_mails(batch.session, [(batch.mails[i], batch.raws[i], r) for i, r in held], batch.now)
    for (i, r), entry in zip(held, entries):
        batch.outcomes[i] = Outcome("quarantine", batch.mails[i], quarantine=entry, engagement=r.engagement)
    batch.held = held


async def record(batch: Batch) -> None:
    """Every placeable mail into its engagement's logbook: one ``record_exchanges`` (two
    when a mail has the Message-ID of another in the batch: that one first, for its id)."""
    first = [(i, r) for i, r in batch.placeable if i not in batch.variant_of]
    later = [(i, r) for i, r in batch.placeable if i in batch.variant_of]
    await _record(batch, first)
    for i, _ in later:
        earlier = batch.outcomes[batch.variant_of[i]]
        if earlier is not None and earlier.recorded is not None:
            batch.mails[i].duplicate_of = earlier.recorded.exchange.id
    await _record(batch, later)


async def _record(batch: Batch, placeable: list[tuple[int, Route]]) -> None:
    items = [PlacedMail(batch.mails[i], batch.raws[i], r.engagement, r.coachee)  # type: ignore[arg-type]
             for i, r in placeable]
    recorded = await record_mails(batch.session, items, batch.now, limit=batch.mail.max_bytes,
                                  text_limit=batch.mail.max_text_chars)
    for (i, r), result in zip(placeable, recorded):
        batch.outcomes[i] = Outcome("exchange", batch.mails[i], recorded=result, engagement=r.engagement,
                                    coachee=r.coachee)


async def crisis(batch: Batch) -> None:
    """Each new mail checked for crisis language (the writer's own words: quoted mail left
    out) in its engagement's language; a match is flagged, the coach alerted at once, and
    the automatic replies to it name the crisis resources (``ecoach.actions.crisis``)."""
    found: list[tuple[Outcome, Signalled]] = []
    for i, _ in batch.placeable:
        outcome = batch.outcomes[i]
        if outcome is None or outcome.recorded is None or not outcome.recorded.created or outcome.engagement is None:
            continue
        language = outcome.engagement.language
        signals = check_crisis(outcome.recorded.exchange.body_text, language)
        if signals:
            found.append((outcome, Signalled(outcome.recorded, language, signals)))
    flagged = await do_flag_crisis(batch.session, [item for _, item in found], now=batch.now, mail=batch.mail,
                                   base_url=batch.base_url, in_chat=False)
    for (outcome, _), result in zip(found, flagged):
        outcome.crisis = result.resources


async def auto_replies(batch: Batch) -> None:
    """The oversized notice and the absence reply, decided for the whole batch in a few
    queries, then queued in mail order (as one by one would)."""
    placed: list[Outcome] = [batch.outcomes[i] for i, _ in batch.placeable]  # type: ignore[misc]
    senders = {o.mail.from_address for o in placed if o.mail.oversized and o.mail.from_address}
    recent = await recently_auto_replied(batch.session, senders, batch.now)
    created = [o for o in placed if o.recorded is not None and o.recorded.created]
    asks = [ask_for(o.mail, o.engagement) for o in created]
    plans = await plan_absence_replies(batch.session, asks, batch.mail, batch.now)
    replies = {id(created[i]): reply for i, reply in plans.items()}
    for outcome in placed:
        engagement = outcome.engagement
        assert engagement is not None
        if outcome.mail.oversized:  # (not to automatic mail: do_reply_oversized checks)
            outcome.queued += await do_reply_oversized(batch.session, outcome.mail, engagement, batch.mail,
                                                       batch.now, recent=recent, crisis=outcome.crisis)
        if id(outcome) in replies:
            await queue_absence_reply(batch.session, replies[id(outcome)], mail=batch.mail, secret=batch.secret,
                                      now=batch.now)
            outcome.queued += 1


async def ledger(batch: Batch) -> None:
    """One ``inbound_mail`` row per mail taken in (a duplicate has its row already)."""
    rows = [
        {"dedupe_key": o.mail.dedupe_key, "source": batch.source, "received_at": batch.now, "outcome": o.kind,
         "exchange_id": o.recorded.exchange.id if o.recorded else None,
         "quarantine_id": o.quarantine.id if o.quarantine else None,
         "content_key": batch.content_keys[i] if i < len(batch.content_keys) else None}
        for i, o in enumerate(batch.decided()) if o.kind != "duplicate"
    ]
    if rows:
        await batch.session.execute(insert(InboundMail), rows)


async def announce(batch: Batch) -> None:
    """Each coach with newly held mail sees the new count after the commit (new exchanges
    and failed deliveries registered their own events)."""
    coaches = {o.quarantine.coach_id for o in batch.decided() if o.quarantine and o.quarantine.coach_id}
    for coach_id, count in (await count_held_by_coach(batch.session, coaches)).items():
        emit(batch.session, topics.coach(coach_id), {"type": "quarantine", "count": count})


STEPS: tuple[tuple[str, Step], ...] = (
    ("dedupe", dedupe),
    ("bounce", bounce),
    ("route", route),
    ("hold", hold),
    ("record", record),
    ("crisis", crisis),
    ("auto_replies", auto_replies),
    ("ledger", ledger),
    ("announce", announce),
)


async def run_pipeline(batch: Batch, steps: Sequence[tuple[str, Step]] = STEPS) -> list[Outcome]:
    for name, step in steps:
        log.debug("inbound pipeline: %s (%d mails)", name, len(batch.mails))
        await step(batch)
    return batch.decided()
