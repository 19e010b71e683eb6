"""Plans and the usage ledger: an engagement holds a product; sessions held and written
replies use it up, each counted once; the coach (and, if they chose so, the coachee) is
warned once when it runs low and once when it is used up; booking can be refused then.

Every usage entry has a unique ``source`` (``booking:<id>``, ``exchange:<id>``, ...): a
retried task or a resent reply finds its entry and adds none. Each entry is weighed
against the plan under the plan's lock (``logbook.billing_locks.lock_plan``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.bundle_texts import coach_warning, coachee_warning
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.actions.exchanges import NewExchange, record_exchanges
from ecoach.core.bundles import Balance, Coverage, ProductKind, Terms, Thresholds, Used, cover_minutes, cover_session
from ecoach.core.invoicing import Unit
from ecoach.logbook import billing_queries as bq
from ecoach.logbook.billing_locks import lock_plan
from ecoach.logbook.billing_models import BillingClient, EngagementPlan, UsageEntry
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import BillingSettings

log = logging.getLogger(__name__)

USED_UP = N_("The sessions of your coaching package are used up, so a new session cannot be booked now. "
             "Please contact your coach to continue.")


@dataclass(frozen=True)
class Rules:
    thresholds: Thresholds
    words_per_minute: int
    minimum_minutes: int
    refuse_default: bool

    @classmethod
    def of(cls, settings: BillingSettings) -> Rules:
        return cls(Thresholds(settings.low_sessions, settings.low_minutes, settings.low_days),
                   settings.words_per_minute, settings.minimum_reply_minutes, settings.refuse_booking_when_used_up)


def day_in(zone: str, moment: datetime) -> date:
    return moment.astimezone(ZoneInfo(zone)).date()


def terms_of(plan: EngagementPlan) -> Terms:
    return Terms(ProductKind(plan.kind), plan.sessions, plan.minutes, plan.unlimited_written, plan.starts_on,
                 plan.ends_on, plan.session_price, plan.hourly_rate)


async def get_balance(session: AsyncSession, engagement: Engagement, today: date,
                      rules: Rules) -> tuple[EngagementPlan, Balance] | None:
    """The engagement's plan and what is left of it (None: it holds no product)."""
    plan = await bq.get_active_plan(session, engagement.id)
    if plan is None:
        return None
    return plan, Balance(terms_of(plan), await bq.get_used(session, plan), today, rules.thresholds)


def _add_months(day: date, months: int) -> date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


async def do_assign_plan(session: AsyncSession, coach: Coach, engagement: Engagement, product_id: int,
                         starts_on: date, now: datetime) -> EngagementPlan:
    """Sell a product to the engagement: its terms are copied into a new plan (the previous
    plan ends), and a bundle's or subscription's price is billable from its first day."""
    product = await bq.get_product(session, coach.id, product_id)
    if product is None or not product.active:
        raise NotFound("product_unknown", N_("This product does not exist."))
    previous = await bq.get_active_plan(session, engagement.id)
    client_id = previous.client_id if previous is not None else None
    if client_id is None:
        private = await bq.get_private_client(session, engagement.id)
        client_id = private.id if private is not None else None
    if previous is not None:
        previous.ended_at = now
        await session.flush()  # one active plan per engagement (a unique index)
    ends_on = (_add_months(starts_on, product.months) - timedelta(days=1)
               if product.kind == ProductKind.subscription.value and product.months else None)
    plan = EngagementPlan(
        coach_id=coach.id, engagement_id=engagement.id, product_id=product.id, client_id=client_id,
        name=product.name, kind=product.kind, sessions=product.sessions, minutes=product.minutes,
        unlimited_written=product.unlimited_written, starts_on=starts_on, ends_on=ends_on, price=product.price,
        session_price=product.session_price, hourly_rate=product.hourly_rate, vat=product.vat, warned="",
        created_at=now)
    session.add(plan)
    await session.flush()
    if plan.price:
        session.add(UsageEntry(coach_id=coach.id, engagement_id=engagement.id, plan_id=plan.id,
                               source=f"plan:{plan.id}", kind="purchase", day=starts_on, sessions=0, minutes=0,
                               quantity=1, unit=Unit.piece.value, unit_price=plan.price, base_quantity=1,
                               label=plan.name, created_at=now))
    log.info("plan %s (product %s) for engagement %s", plan.id, product.id, engagement.id)
    return plan


async def do_end_plan(session: AsyncSession, engagement: Engagement, now: datetime) -> None:
    plan = await bq.get_active_plan(session, engagement.id)
    if plan is None:
        raise NotFound("plan_unknown", N_("This engagement holds no product."))
    plan.ended_at = now


async def do_set_payer(session: AsyncSession, engagement: Engagement, client: BillingClient) -> None:
    """Bill the engagement's plan to ``client`` (from now on: invoices issued already stay)."""
    plan = await bq.get_active_plan(session, engagement.id)
    if plan is not None:
        plan.client_id = client.id


# --- usage ---------------------------------------------------------------------------------


async def _entry(session: AsyncSession, engagement: Engagement, source: str, kind: str, day: date,
                 now: datetime, rules: Rules, weigh) -> UsageEntry | None:  # type: ignore[no-untyped-def]
    """One ledger entry, once per ``source``, weighed (``weigh(terms, used) -> entry fields``)
    against the engagement's plan under its lock; then the warnings it calls for."""
    found = await bq.get_active_plan(session, engagement.id)
    if found is None:
        return None
    plan = await lock_plan(session, found.id)
    if plan is None or await bq.get_usage_entry(session, source) is not None:
        return None  # the plan ended meanwhile, or this was counted already (a retry)
    used = await bq.get_used(session, plan)
    entry = UsageEntry(coach_id=engagement.coach_id, engagement_id=engagement.id, plan_id=plan.id, source=source,
                       kind=kind, day=day, created_at=now, **weigh(terms_of(plan), used))
    session.add(entry)
    await session.flush()
    await _warn(session, engagement, plan, day, now, rules)
    return entry


def _billed(coverage: Coverage, unit: Unit, base: int) -> dict[str, object]:
    billed = coverage.billable
    return {"quantity": billed, "unit": unit.value, "unit_price": coverage.price if billed and coverage.price else 0,
            "base_quantity": base}


async def do_record_session_held(session: AsyncSession, booking_id: int, now: datetime,
                                 rules: Rules) -> UsageEntry | None:
    """A session that took place (``booking.held_at`` set) uses up one session, once."""
    booking = await session.get(Booking, booking_id)
    if booking is None or booking.held_at is None or booking.engagement_id is None:
        return None
    engagement = await session.get(Engagement, booking.engagement_id)
    coach = await session.get(Coach, booking.coach_id)
    item = await session.get(SessionType, booking.session_type_id)
    assert engagement is not None and coach is not None
    day = day_in(coach.time_zone, booking.starts_at)

    def weigh(terms: Terms, used: Used) -> dict[str, object]:
        return {"sessions": 1, "minutes": 0, "label": item.name if item else "",
                **_billed(cover_session(terms, used, day), Unit.piece, 1)}

    return await _entry(session, engagement, f"booking:{booking.id}", "session", day, now, rules, weigh)


def check_minutes(value: object) -> int | None:
    """Minutes the coach gave for a reply: empty means "estimate it"."""
    text = str(value if value is not None else "").strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or int(text) > 600:
        raise ActionError("minutes_invalid", N_("The time spent must be a whole number of minutes from 0 to 600."))
    return int(text)


async def do_record_reply(session: AsyncSession, engagement_id: int, exchange_id: int, minutes: int,
                          now: datetime, rules: Rules) -> UsageEntry | None:
    """A written reply (chat or mail) uses up its minutes, once per exchange."""
    engagement = await session.get(Engagement, engagement_id)
    coach = await session.get(Coach, engagement.coach_id) if engagement else None
    if engagement is None or coach is None:
        return None
    day = day_in(coach.time_zone, now)

    def weigh(terms: Terms, used: Used) -> dict[str, object]:
        return {"sessions": 0, "minutes": minutes, "label": "",
                **_billed(cover_minutes(terms, used, minutes, day), Unit.minute, 60)}

    return await _entry(session, engagement, f"exchange:{exchange_id}", "reply", day, now, rules, weigh)


async def do_adjust(session: AsyncSession, coach: Coach, engagement: Engagement, *, sessions: int, minutes: int,
                    key: str, now: datetime, rules: Rules) -> UsageEntry | None:
    """A correction of the balance by the coach (a session held elsewhere, minutes given
    back): never billed; ``key`` (the form's id) makes a resubmission count once."""
    if not sessions and not minutes:
        raise ActionError("adjust_empty", N_("Give a number of sessions or minutes to correct."))
    if await bq.get_active_plan(session, engagement.id) is None:
        raise Conflict("plan_unknown", N_("This engagement holds no product."))
    day = day_in(coach.time_zone, now)
    return await _entry(session, engagement, f"adjust:{engagement.id}:{key}", "adjustment", day, now, rules,
                        lambda terms, used: {"sessions": sessions, "minutes": minutes, "label": ""})


async def _warn(session: AsyncSession, engagement: Engagement, plan: EngagementPlan, today: date,
                now: datetime, rules: Rules) -> None:
    """Tell the coach (a note in the timeline) and, when the practice chose so, the coachee
    (in the chat), once per plan when it runs low and once when it is used up."""
    balance = Balance(terms_of(plan), await bq.get_used(session, plan), today, rules.thresholds)
    state = "used_up" if balance.used_up else "low" if balance.low else None
    given = set(filter(None, plan.warned.split(",")))
    if state is None or state in given:
        return
    plan.warned = ",".join(sorted(given | {state}))
    practice = await bq.get_practice(session, engagement.coach_id)
    coach = await session.get(Coach, engagement.coach_id)
    assert coach is not None
    items = [NewExchange(engagement_id=engagement.id, channel="note", direction="internal", author="system",
                         author_name="ecoach", text=coach_warning(balance, state, plan.name, coach.language),
                         external_id=f"billing:plan:{plan.id}:{state}", force=True)]
    if practice is not None and practice.warn_coachee and engagement.status == "active":
        items.append(NewExchange(engagement_id=engagement.id, channel="chat", direction="out", author="system",
                                 author_name=coach.name, force=True,
                                 text=coachee_warning(balance, state, engagement.language),
                                 external_id=f"billing:plan:{plan.id}:{state}:coachee"))
    await record_exchanges(session, items, now, loaded={engagement.id: engagement})


async def check_can_book(session: AsyncSession, engagement: Engagement, now: datetime, rules: Rules) -> None:
    """Refuse a coachee's booking when the plan's sessions are used up and the practice
    refuses bookings then (call under the agenda lock: bookings count as used)."""
    if await booking_refused(session, engagement, now, rules):
        error = Conflict("billing_used_up", USED_UP)
        error.language = engagement.language
        raise error


async def booking_refused(session: AsyncSession, engagement: Engagement, now: datetime, rules: Rules) -> bool:
    # The plan's days are the coach's (sold and billed on the coach's calendar), not the
    # coachee's: across the date line they would end a day early or late.
    coach = await session.get(Coach, engagement.coach_id)
    assert coach is not None
    found = await get_balance(session, engagement, day_in(coach.time_zone, now), rules)
    if found is None or not found[1].booking_refused:
        return False
    practice = await bq.get_practice(session, engagement.coach_id)
    return practice.refuse_when_used_up if practice is not None else rules.refuse_default
