"""Bundles and invoices at scale, on the database: the usage ledger's hot paths and a
month-end run.

    .venv/bin/python bench/billing.py --db both [--clients 200] [--history 100000]

Builds the schema through the real migrations, makes one practice with ``--clients``
engagements (each with a bundle and a private client, sealed under a test master key) and
``--history`` older ledger entries, then times:

- recording a written reply against a plan (plan lock, balance aggregate, insert), one
  transaction each, and 20 at once on one plan (they queue on the plan's lock);
- the balance the engagement page shows (one aggregate over the plan's entries);
- the month-end run: preview and issue every client's invoice (numbers, UBL) in one
  transaction.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import insert

from common import bench_database, summary  # type: ignore[import-not-found]
from ecoach.actions.billing_setup import check_client_form, check_practice_form, check_product_form
from ecoach.actions.billing_setup import do_save_client, do_save_practice, do_save_product
from ecoach.actions.bundles import Rules, do_assign_plan, do_record_reply, do_set_payer, get_balance
from ecoach.actions.invoice_run import do_issue_month, get_month_preview
from ecoach.actions.unit import unit_of_work
from ecoach.core.crypto import MasterKey, MasterKeys
from ecoach.logbook.billing_models import UsageEntry
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.settings import BillingSettings

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
RULES = Rules.of(BillingSettings())
PRACTICE = {"name": "Coachpraktijk Bench", "street": "Oudegracht 12a", "postal_code": "3511 AB",
            "city": "Utrecht", "country": "NL", "kvk": "12345678", "vat_number": "NL000099998B57",
            "iban": "NL91ABNA0417164300", "email": "bench@example.org", "vat": "standard_21"}
BUNDLE = {"name": "Bundel", "kind": "bundle", "sessions": "5", "minutes": "120", "price": "450",
          "hourly_rate": "80"}
ADDRESS = {"street": "Laan 3", "postal_code": "2512 AB", "city": "Den Haag", "country": "NL"}


async def load(sessions, clients: int, history: int) -> tuple[Coach, list[Engagement]]:  # type: ignore[no-untyped-def]
    async with unit_of_work(sessions) as session:
        coach = Coach(name="Bench", email="bench@example.org", password_hash="x", language="nl",
                      time_zone="Europe/Amsterdam", created_at=NOW)
        session.add(coach)
        await session.flush()
        await do_save_practice(session, coach, check_practice_form(PRACTICE), NOW)
        product = await do_save_product(session, coach, check_product_form(BUNDLE), product_id=None, now=NOW)
        engagements = []
        for n in range(clients):
            coachee = Coachee(coach_id=coach.id, name=f"Coachee {n}", language="nl", created_at=NOW)
            session.add(coachee)
            await session.flush()
            engagement = Engagement(coach_id=coach.id, coachee_id=coachee.id, language="nl",
                                    time_zone="Europe/Amsterdam", created_at=NOW)
            session.add(engagement)
            await session.flush()
            await do_assign_plan(session, coach, engagement, product.id, date(2026, 11, 1), NOW)
            client = await do_save_client(session, coach, engagement,
                                          check_client_form({**ADDRESS, "name": f"Coachee {n}"}, organisation=False,
                                                            language="nl"),
                                          organisation=False, client_id=None, now=NOW)
            await do_set_payer(session, engagement, client)
            engagements.append(engagement)
    # Older, already settled history: what the indexes must skip.
    rows = [dict(coach_id=coach.id, engagement_id=engagements[n % clients].id, plan_id=None, source=f"old:{n}",
                 kind="reply", day=date(2025, 1, 1) + timedelta(days=n % 600), sessions=0, minutes=10, quantity=0,
                 unit="MIN", unit_price=0, base_quantity=60, label="", created_at=NOW) for n in range(history)]
    async with unit_of_work(sessions) as session:
        for start in range(0, len(rows), 5000):
            await session.execute(insert(UsageEntry), rows[start:start + 5000])
    return coach, engagements


async def measure(backend: str, url: str, clients: int, history: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    sessions = session_factory(engine, None, Keyring(MasterKeys([MasterKey("bench", bytes(range(32)))])))
    started = time.perf_counter()
    coach, engagements = await load(sessions, clients, history)
    print(f"[{backend}] loaded {clients} clients, {history} older ledger entries in "
          f"{time.perf_counter() - started:.1f} s")
    exchange_ids = iter(range(1, 10**9))

    async def reply(engagement: Engagement) -> float:
        begun = time.perf_counter()
        async with unit_of_work(sessions) as session:
            await do_record_reply(session, engagement.id, next(exchange_ids), 12, NOW, RULES)
        return (time.perf_counter() - begun) * 1000

    timings = [await reply(engagements[n % clients]) for n in range(clients * 3)]
    print(f"[{backend}] record a reply (own transaction)   {summary(timings)}")
    begun = time.perf_counter()
    await asyncio.gather(*[reply(engagements[0]) for _ in range(20)])
    print(f"[{backend}] 20 replies at once on one plan      {(time.perf_counter() - begun) * 1000:7.1f} ms in all")
    balances = []
    async with sessions() as session:
        for engagement in engagements:
            begun = time.perf_counter()
            await get_balance(session, engagement, date(2026, 11, 25), RULES)
            balances.append((time.perf_counter() - begun) * 1000)
    print(f"[{backend}] balance (engagement page)          {summary(balances)}")
    begun = time.perf_counter()
    async with sessions() as session:
        preview = await get_month_preview(session, coach, 2026, 11, date(2026, 11, 30))
    previewed = time.perf_counter() - begun
    begun = time.perf_counter()
    async with unit_of_work(sessions) as session:
        issued = await do_issue_month(session, coach, 2026, 11, today=date(2026, 11, 30),
                                      fingerprint=preview.fingerprint, now=NOW)
    print(f"[{backend}] month-end: preview {previewed * 1000:.0f} ms, issue {len(issued)} invoices "
          f"({issued[0].number}..{issued[-1].number}) {(time.perf_counter() - begun) * 1000:.0f} ms")
    await engine.dispose()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--postgres-url", default=None, help="a server to use (default: a throwaway cluster)")
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
        async with bench_database(backend, "ecoach_bench_billing", args.postgres_url) as url:
            await measure(backend, url, args.clients, args.history)


if __name__ == "__main__":
    asyncio.run(main())
