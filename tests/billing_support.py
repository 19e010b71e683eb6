"""Helpers for the billing tests: a practice, products, a plan and a payer, made through
the real actions in their own transactions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from ecoach.actions import billing_setup as setup_actions
from ecoach.actions.bundles import Rules, do_assign_plan, do_set_payer
from ecoach.actions.unit import unit_of_work
from ecoach.logbook import billing_queries
from ecoach.logbook.billing_models import EngagementPlan, UsageEntry
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import BillingSettings

PRACTICE = {"name": "Coachpraktijk Ëlla Smit", "trade_name": "", "street": "Oudegracht 12a",
            "postal_code": "3511 AB", "city": "Utrecht", "country": "NL", "kvk": "12345678",
            "vat_number": "NL000099998B57", "iban": "NL91 ABNA 0417 1643 00", "bic": "",
            "email": "ella@coachpraktijk.example", "phone": "", "vat": "standard_21", "payment_days": "14"}
BUNDLE = {"name": "Bundel 2 sessies + 60 min", "kind": "bundle", "sessions": "2", "minutes": "60",
          "price": "300", "session_price": "", "hourly_rate": "80"}
PER_SESSION = {"name": "Losse sessie", "kind": "per_session", "session_price": "95,00", "hourly_rate": "80"}
SUBSCRIPTION = {"name": "Mailcoaching 3 maanden", "kind": "subscription", "months": "3", "price": "249",
                "unlimited_written": "on", "session_price": "90"}
COACHEE_ADDRESS = {"name": "Noël Jansen-Çelik", "street": "Laan van Ïnsulinde 3", "postal_code": "2512 ab",
                   "city": "Den Haag", "country": "NL", "email": "noel@example.nl"}
SPONSOR = {"name": "Zorggroep De Linde B.V.", "street": "Postbus 100", "postal_code": "1000 AA",
           "city": "Amsterdam", "country": "NL", "kvk": "87654321", "vat_number": "NL000099998B57",
           "contact": "Afdeling P&O", "reference": "KP-4711", "email": "crediteuren@delinde.example"}
RULES = Rules.of(BillingSettings())


@dataclass
class Billed:
    coach: Coach
    engagement: Engagement
    plan: EngagementPlan


async def add_practice(sessions: async_sessionmaker[AsyncSession], coach: Coach, now: datetime,
                       **changes: Any) -> None:
    async with unit_of_work(sessions) as session:
        checked = setup_actions.check_practice_form({**PRACTICE, **changes})
        await setup_actions.do_save_practice(session, coach, checked, now)


async def add_product(sessions: async_sessionmaker[AsyncSession], coach: Coach, now: datetime,
                      form: dict[str, str] = BUNDLE) -> int:
    async with unit_of_work(sessions) as session:
        product = await setup_actions.do_save_product(session, coach, setup_actions.check_product_form(form),
                                                      product_id=None, now=now)
        return product.id


async def sell(sessions: async_sessionmaker[AsyncSession], coach: Coach, engagement_id: int, product_id: int,
               now: datetime, *, payer: dict[str, str] | None = COACHEE_ADDRESS, organisation: bool = False,
               client_id: int | None = None) -> Billed:
    """Assign a product to the engagement (from today in Amsterdam) and say who pays."""
    async with unit_of_work(sessions) as session:
        engagement = await session.get(Engagement, engagement_id)
        assert engagement is not None
        plan = await do_assign_plan(session, coach, engagement, product_id,
                                    now.astimezone(ZoneInfo(coach.time_zone)).date(), now)
        client = None
        if payer is not None:
            details = setup_actions.check_client_form(payer, organisation=organisation, language=engagement.language)
            client = await setup_actions.do_save_client(session, coach, engagement, details,
                                                        organisation=organisation, client_id=None, now=now)
        elif client_id is not None:
            client = await billing_queries.get_client(session, coach.id, client_id)
        if client is not None:
            await do_set_payer(session, engagement, client)
        return Billed(coach, engagement, plan)


async def usage(sessions: async_sessionmaker[AsyncSession], *where: Any) -> list[UsageEntry]:
    async with sessions() as session:
        return list((await session.execute(select(UsageEntry).where(*where).order_by(UsageEntry.id))).scalars())


async def count_usage(sessions: async_sessionmaker[AsyncSession], *where: Any) -> int:
    async with sessions() as session:
        return int((await session.execute(select(func.count()).select_from(UsageEntry).where(*where))).scalar_one())
