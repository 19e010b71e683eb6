"""The monthly invoice run on the database: an issued month's UBL validates against the
UBL 2.1 schemas and the EN 16931 / NLCIUS rules and its amounts equal the CSV's; numbers
stay gap-free and unique under concurrency; issued invoices never change; credit notes
release usage to be billed again; an engagement's erasure keeps its invoices; a coach
never sees or bills another coach's clients; and the month, number year and period are
the coach's (Amsterdam), at START and at each awkward moment (New Year's night above all)."""

from __future__ import annotations

import asyncio
import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from lxml import etree
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from ecoach.actions.billing_setup import do_save_client
from ecoach.actions.bundles import do_assign_plan, do_record_reply, do_record_session_held
from ecoach.actions.errors import ActionError, NotFound
from ecoach.actions.invoice_documents import get_issued_invoice, invoice_pdf, month_csv
from ecoach.actions.invoice_run import do_credit_invoice, do_issue_month, get_month_preview
from ecoach.actions.unit import unit_of_work
from ecoach.logbook.billing_models import (
    BillingClient, EngagementPlan, InvoiceNumber, InvoiceRecord, UsageEntry,
)
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.models import Base, Engagement
from tests.billing_support import (
    BUNDLE, COACHEE_ADDRESS, PER_SESSION, RULES, SPONSOR, add_practice, add_product, sell, usage,
)
from tests.invoicing_support import xsd_errors
from tests.moments import at_local, local_now, month_start
from tests.support import app_client, login, settings_for
from tests.ubl_rules import NS, check


def _today(clock):  # type: ignore[no-untyped-def]
    """The coach's today: the day in Amsterdam (on New Year's night not yet so in UTC)."""
    return local_now(clock).date()


def _number(today, n: int) -> str:  # type: ignore[no-untyped-def]
    return f"{today.year}-{n:04d}"


@contextmanager
def _last_month(clock) -> Iterator[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """The clock on the third day of the month before its own (in Amsterdam) at 10:00, and
    back at its moment after: the month a coach invoices at that moment, such as December
    on New Year's night. Yields that month as (year, month)."""
    moment, first = clock.now(), month_start(clock, -1)
    clock.set(at_local(first + timedelta(days=2), 10))
    try:
        yield first.year, first.month
    finally:
        clock.set(moment)


async def _session_held(sessions, engagement, clock, n: int) -> None:  # type: ignore[no-untyped-def]
    """A session that took place (as the task runner records it), without booking pages."""
    async with unit_of_work(sessions) as session:
        item = SessionType(coach_id=engagement.coach_id, name="Coachsessie", duration_minutes=60, channel="video",
                           created_at=clock.now())
        session.add(item)
        await session.flush()
        # Earlier the same day, one after another (a coach's sessions never overlap): the
        # coach's k-th session k hours and k minutes before now (counted in this database,
        # not across tests, so that a month's sessions stay on the clock's day).
        held = (await session.execute(select(func.count()).select_from(Booking)
                                      .where(Booking.coach_id == engagement.coach_id))).scalar_one()
        start = clock.now() - timedelta(minutes=61 * (held + 1))
        booking = Booking(coach_id=engagement.coach_id, session_type_id=item.id, engagement_id=engagement.id,
                          status="confirmed", starts_at=start, ends_at=start + timedelta(hours=1), busy_from=start,
                          busy_until=start + timedelta(hours=1), channel="video", uid=f"uid-{engagement.id}-{n}",
                          sequence=0, language="nl", attendee_name="x", attendee_time_zone="Europe/Amsterdam",
                          manage_token_hash=f"h-{engagement.id}-{n}", manage_salt="s", created_at=clock.now(),
                          updated_at=clock.now(), held_at=clock.now())
        session.add(booking)
        await session.flush()
        await do_record_session_held(session, booking.id, clock.now(), RULES)


async def _reply(sessions, engagement, record_exchange, clock, minutes: int) -> None:  # type: ignore[no-untyped-def]
    recorded = await record_exchange(engagement.id, "Antwoord", direction="out")
    async with unit_of_work(sessions) as session:
        await do_record_reply(session, engagement.id, recorded.exchange.id, minutes, clock.now(), RULES)


async def _month(sessions, make_coach, make_engagement, record_exchange, clock):  # type: ignore[no-untyped-def]
    """A coach whose month (the clock's) holds: a private coachee with a bundle, used beyond it
    (extra minutes and sessions), and two employees of one sponsor paying per session."""
    coach = await make_coach(time_zone="Europe/Amsterdam")
    await add_practice(sessions, coach, clock.now())
    bundle = await add_product(sessions, coach, clock.now(), {**BUNDLE, "session_price": "95"})
    single = await add_product(sessions, coach, clock.now(), PER_SESSION)
    anna = (await make_engagement(coach, coachee_name="Anna")).engagement
    sell_anna = await sell(sessions, coach, anna.id, bundle, clock.now())
    await _reply(sessions, anna, record_exchange, clock, 50)
    await _reply(sessions, anna, record_exchange, clock, 25)  # 15 minutes beyond the bundle
    for n in range(3):  # the third one beyond the bundle
        await _session_held(sessions, anna, clock, n)
    sponsor_id = None
    for name in ("Bram", "Cees"):
        engagement = (await make_engagement(coach, coachee_name=name)).engagement
        billed = await sell(sessions, coach, engagement.id, single, clock.now(), payer=None if sponsor_id else SPONSOR,
                            organisation=True, client_id=sponsor_id)
        async with sessions() as session:
            sponsor_id = (await session.get(EngagementPlan, billed.plan.id)).client_id
        await _session_held(sessions, engagement, clock, 0)
    return coach, anna, sell_anna


def _csv_rows(data: bytes) -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))


def _dec(value: str) -> Decimal:
    return Decimal(value.replace(",", "."))


@pytest.mark.awkward_clock
async def test_an_issued_month_is_valid_ubl_and_its_amounts_match_the_csv(
        sessions, make_coach, make_engagement, record_exchange, clock) -> None:  # type: ignore[no-untyped-def]
    with _last_month(clock) as month:
        coach, anna, _ = await _month(sessions, make_coach, make_engagement, record_exchange, clock)
    today = _today(clock)
    async with sessions() as session:
        preview = await get_month_preview(session, coach, *month, today)
    assert preview.error is None and not preview.unbillable
    assert [d.client.details["name"] for d in preview.drafts] == ["Noël Jansen-Çelik", "Zorggroep De Linde B.V."]
    async with unit_of_work(sessions) as session:
        issued = await do_issue_month(session, coach, *month, today=today, fingerprint=preview.fingerprint,
                                      now=clock.now())
    assert [r.number for r in issued] == [_number(today, 1), _number(today, 2)]
    async with sessions() as session:
        data = await month_csv(session, coach, *month, None, "nl")
        again = await get_month_preview(session, coach, *month, today)
    assert again.drafts == [] and again.unbillable == []  # billed: nothing left open
    rows = _csv_rows(data)
    per_invoice: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        per_invoice[row["Factuurnummer"]].append(row)
    for record in issued:
        assert xsd_errors(record.ubl) == [], record.number
        assert check(record.ubl) == [], record.number
        root = etree.fromstring(record.ubl)
        payable = Decimal(root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS))
        vat = Decimal(root.findtext("cac:TaxTotal/cbc:TaxAmount", namespaces=NS))
        lines = per_invoice[record.number]
        assert sum(_dec(r["Bruto"]) for r in lines) == payable == Decimal(record.gross) / 100
        assert sum(_dec(r["Btw"]) for r in lines) == vat == Decimal(record.vat) / 100
        assert len(lines) == len(root.findall("cac:InvoiceLine", NS))
    anna_lines = per_invoice[_number(today, 1)]
    # The bundle, 15 extra minutes (one line for the month), the third session at € 95; all at 21 %.
    assert [(r["Omschrijving"], r["Aantal"], r["Netto"]) for r in anna_lines] == [
        ("Bundel 2 sessies + 60 min", "1", "300,00"), ("Schriftelijke coaching", "15", "20,00"),
        ("Coachsessie", "1", "95,00")]
    sponsor_lines = per_invoice[_number(today, 2)]
    assert [r["Netto"] for r in sponsor_lines] == ["95,00", "95,00"]
    pdf = await invoice_pdf(issued[0])
    assert pdf.startswith(b"%PDF") and pdf == await invoice_pdf(issued[0])  # drawn again, the same


@pytest.mark.awkward_clock
async def test_issuing_needs_the_preview_the_coach_saw_and_takes_no_number_otherwise(
        sessions, make_coach, make_engagement, record_exchange, clock) -> None:  # type: ignore[no-untyped-def]
    with _last_month(clock) as month:
        coach, anna, _ = await _month(sessions, make_coach, make_engagement, record_exchange, clock)
        async with sessions() as session:  # the coach looks at the month before it ends
            seen = (await get_month_preview(session, coach, *month, _today(clock))).fingerprint
        await _reply(sessions, anna, record_exchange, clock, 10)  # more usage after the preview
    today = _today(clock)  # issued at the clock's moment
    with pytest.raises(ActionError) as changed:
        async with unit_of_work(sessions) as session:
            await do_issue_month(session, coach, *month, today=today, fingerprint=seen, now=clock.now())
    assert changed.value.code == "month_changed"
    with pytest.raises(ActionError) as empty:
        async with unit_of_work(sessions) as session:
            earlier = month_start(clock, -2)
            await do_issue_month(session, coach, earlier.year, earlier.month, today=today, fingerprint=seen,
                                 now=clock.now())
    assert empty.value.code in ("month_changed", "nothing_to_invoice")
    async with sessions() as session:
        assert (await session.execute(select(InvoiceRecord))).first() is None
        assert (await session.execute(select(InvoiceNumber.last))).scalars().all() in ([], [0])


async def test_concurrent_numbering_is_gap_free_and_unique(
        sessions, make_coach, make_engagement, record_exchange, clock) -> None:  # type: ignore[no-untyped-def]
    with _last_month(clock) as month:
        coach = await make_coach(time_zone="Europe/Amsterdam")
        await add_practice(sessions, coach, clock.now())
        single = await add_product(sessions, coach, clock.now(), PER_SESSION)
        for n in range(6):
            engagement = (await make_engagement(coach, coachee_name=f"Coachee {n}")).engagement
            await sell(sessions, coach, engagement.id, single, clock.now(),
                       payer={**COACHEE_ADDRESS, "name": f"K {n}"})
            await _session_held(sessions, engagement, clock, n)
    today = _today(clock)
    async with sessions() as session:
        fingerprint = (await get_month_preview(session, coach, *month, today)).fingerprint

    async def issue() -> list[str]:
        async with unit_of_work(sessions) as session:
            return [r.number for r in await do_issue_month(session, coach, *month, today=today,
                                                           fingerprint=fingerprint, now=clock.now())]

    async def credit(invoice_id: int) -> str:
        async with unit_of_work(sessions) as session:
            return (await do_credit_invoice(session, coach, invoice_id, today=today, now=clock.now())).number

    # Three runs of the same month at once: one issues, the others find it changed (nothing doubled).
    runs = await asyncio.gather(issue(), issue(), issue(), return_exceptions=True)
    [numbers] = [r for r in runs if isinstance(r, list)]
    assert numbers == [_number(today, n) for n in range(1, 7)]
    assert all(isinstance(r, ActionError) for r in runs if not isinstance(r, list))
    async with sessions() as session:
        ids = list((await session.execute(select(InvoiceRecord.id).order_by(InvoiceRecord.id))).scalars())
    # Credit all six at once, each twice, and an invoice that does not exist: the refused ones
    # roll back after taking the lock, so they leave no gap.
    results = await asyncio.gather(*[credit(i) for i in ids * 2 + [ids[-1] + 1000]], return_exceptions=True)
    credited = sorted(r for r in results if isinstance(r, str))
    assert credited == [_number(today, n) for n in range(7, 13)]
    assert sum(isinstance(r, ActionError) for r in results) == 7
    async with sessions() as session:
        all_numbers = list((await session.execute(select(InvoiceRecord.number))).scalars())
        assert (await session.execute(select(InvoiceNumber.last))).scalar_one() == 12
    assert sorted(all_numbers) == [_number(today, n) for n in range(1, 13)]


@pytest.mark.awkward_clock
async def test_a_credit_note_releases_the_usage_to_be_billed_again(
        sessions, make_coach, make_engagement, record_exchange, clock) -> None:  # type: ignore[no-untyped-def]
    with _last_month(clock) as month:
        coach, anna, _ = await _month(sessions, make_coach, make_engagement, record_exchange, clock)
    today = _today(clock)
    async with unit_of_work(sessions) as session:
        preview = await get_month_preview(session, coach, *month, today)
        first, _second = await do_issue_month(session, coach, *month, today=today,
                                              fingerprint=preview.fingerprint, now=clock.now())
    async with unit_of_work(sessions) as session:
        credit = await do_credit_invoice(session, coach, first.id, today=today, now=clock.now())
    assert (credit.number, credit.kind, credit.credited_id, credit.gross) == (
        _number(today, 3), "381", first.id, first.gross)
    assert xsd_errors(credit.ubl) == [] and check(credit.ubl) == []
    assert etree.fromstring(credit.ubl).findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID",
                                                 namespaces=NS) == _number(today, 1)
    with pytest.raises(ActionError) as twice:
        async with unit_of_work(sessions) as session:
            await do_credit_invoice(session, coach, first.id, today=today, now=clock.now())
    assert twice.value.code == "credited_already"
    async with unit_of_work(sessions) as session:
        preview = await get_month_preview(session, coach, *month, today)
        assert [d.client.id for d in preview.drafts] == [first.client_id]
        [again] = await do_issue_month(session, coach, *month, today=today, fingerprint=preview.fingerprint,
                                       now=clock.now())
    assert (again.number, again.gross) == (_number(today, 4), first.gross)
    async with sessions() as session:
        rows = _csv_rows(await month_csv(session, coach, *month, first.client_number, "nl"))
    assert {r["Factuurnummer"] for r in rows} == {_number(today, 1), _number(today, 3), _number(today, 4)}
    assert sum(_dec(r["Bruto"]) for r in rows) == Decimal(first.gross) / 100  # invoice - credit + invoice


async def test_issued_invoices_and_the_ledger_cannot_be_changed(
        sessions, make_coach, make_engagement, record_exchange, clock) -> None:  # type: ignore[no-untyped-def]
    with _last_month(clock) as month:
        coach, anna, _ = await _month(sessions, make_coach, make_engagement, record_exchange, clock)
    today = _today(clock)
    async with unit_of_work(sessions) as session:
        preview = await get_month_preview(session, coach, *month, today)
        first, _ = await do_issue_month(session, coach, *month, today=today, fingerprint=preview.fingerprint,
                                        now=clock.now())
    for statement in (update(InvoiceRecord).values(net=0), update(InvoiceRecord).values(number="2026-9999"),
                      delete(InvoiceRecord), update(UsageEntry).values(minutes=1), delete(UsageEntry),
                      update(UsageEntry).values(engagement_id=anna.id + 1)):
        with pytest.raises(DBAPIError) as refused:
            async with sessions() as session:
                await session.execute(statement)
                await session.commit()
        assert "cannot be changed" in str(refused.value) or "append-only" in str(refused.value)


async def _erase(sessions, engagement_id: int) -> None:  # type: ignore[no-untyped-def]
    """What an erasure does to the database (the crypto area's command): every row that
    references the engagement, through foreign keys without ON DELETE, goes first; then the
    engagement; then its data key. Billing's own foreign keys detach or cascade by themselves."""
    tables = {t.name: t for t in Base.metadata.sorted_tables}

    async def remove(session, table, column_values) -> None:  # type: ignore[no-untyped-def]
        rows = (await session.execute(select(table.c.id).where(column_values))).scalars().all() \
            if "id" in table.c else []
        for other in tables.values():
            for fk in other.foreign_keys:
                if fk.column.table is table and fk.ondelete is None and rows:
                    await remove(session, other, fk.parent.in_(rows))
        await session.execute(table.delete().where(column_values))

    async with unit_of_work(sessions) as session:
        key_id = (await session.get(Engagement, engagement_id)).data_key_id
        await remove(session, tables["engagement"], tables["engagement"].c.id == engagement_id)
        if key_id is not None:
            await session.execute(text("DELETE FROM data_key_wrap WHERE data_key_id = :k"), {"k": key_id})
            await session.execute(text("DELETE FROM data_key WHERE id = :k"), {"k": key_id})


async def test_erasing_an_engagement_keeps_its_invoices_and_detaches_its_usage(
        sessions, make_coach, make_engagement, record_exchange, clock, keyring) -> None:  # type: ignore[no-untyped-def]
    with _last_month(clock) as month:
        coach, anna, _ = await _month(sessions, make_coach, make_engagement, record_exchange, clock)
    today = _today(clock)
    async with unit_of_work(sessions) as session:
        preview = await get_month_preview(session, coach, *month, today)
        first, _ = await do_issue_month(session, coach, *month, today=today, fingerprint=preview.fingerprint,
                                        now=clock.now())
    before = len(await usage(sessions, UsageEntry.coach_id == coach.id))
    await _erase(sessions, anna.id)
    keyring.forget(list(keyring._keys))  # another process: nothing in memory
    async with sessions() as session:
        kept = await get_issued_invoice(session, coach, first.id)
        assert kept.client_id is None and kept.document["client"]["name"] == "Noël Jansen-Çelik"
        assert kept.ubl == first.ubl
        assert (await session.execute(select(BillingClient).where(BillingClient.engagement_id == anna.id))).first() \
            is None
        rows = _csv_rows(await month_csv(session, coach, *month, None, "nl"))
    assert {r["Factuurnummer"] for r in rows} == {_number(today, 1), _number(today, 2)}
    entries = await usage(sessions, UsageEntry.coach_id == coach.id)
    assert len(entries) == before
    # Anna's: the bundle, two replies, three sessions.
    assert sum(1 for e in entries if e.engagement_id is None and e.plan_id is None) == 6


async def test_a_coach_never_sees_or_bills_another_coachs_clients(
        sessions, make_coach, make_engagement, record_exchange, clock) -> None:  # type: ignore[no-untyped-def]
    with _last_month(clock) as month:
        coach, anna, billed = await _month(sessions, make_coach, make_engagement, record_exchange, clock)
    other = await make_coach(time_zone="Europe/Amsterdam")
    await add_practice(sessions, other, clock.now())
    mine = (await make_engagement(other, coachee_name="Dirk")).engagement
    today = _today(clock)
    async with sessions() as session:
        preview = await get_month_preview(session, other, *month, today)
    assert preview.drafts == [] and preview.unbillable == []
    async with unit_of_work(sessions) as session:
        theirs = await get_month_preview(session, coach, *month, today)
        [first, _] = await do_issue_month(session, coach, *month, today=today, fingerprint=theirs.fingerprint,
                                          now=clock.now())
    async with sessions() as session:
        with pytest.raises(NotFound):
            await get_issued_invoice(session, other, first.id)
        assert _csv_rows(await month_csv(session, other, *month, None, "nl")) == []
        assert _csv_rows(await month_csv(session, other, *month, first.client_number, "nl")) == []
    for attempt in (lambda s: do_credit_invoice(s, other, first.id, today=today, now=clock.now()),
                    lambda s: do_assign_plan(s, other, mine, billed.plan.product_id, today, clock.now()),
                    lambda s: do_save_client(s, other, mine, {}, organisation=False, client_id=billed.plan.client_id,
                                             now=clock.now())):
        with pytest.raises(NotFound):
            async with unit_of_work(sessions) as session:
                await attempt(session)


@pytest.mark.awkward_clock
async def test_usage_at_the_moment_is_invoiced_in_the_coachs_month_and_year(
        sessions, make_coach, make_engagement, record_exchange, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    """Usage recorded at the clock's moment counts in the coach's month (on New Year's
    night: January, while UTC still says 31 December); the invoices page opens on that
    month, and its invoice takes the coach's year, day and month as number, date and period."""
    coach = await make_coach(time_zone="Europe/Amsterdam", language="en")
    await add_practice(sessions, coach, clock.now())
    single = await add_product(sessions, coach, clock.now(), PER_SESSION)
    engagement = (await make_engagement(coach, coachee_name="Anna")).engagement
    await sell(sessions, coach, engagement.id, single, clock.now())
    await _reply(sessions, engagement, record_exchange, clock, 30)  # half an hour at € 80 an hour
    today, first = _today(clock), month_start(clock)
    last = month_start(clock, 1) - timedelta(days=1)
    assert [e.day for e in await usage(sessions, UsageEntry.coach_id == coach.id)] == [today]
    utc = clock.now().date()
    if (utc.year, utc.month) != (today.year, today.month):  # New Year's night: December holds nothing
        async with sessions() as session:
            assert (await get_month_preview(session, coach, utc.year, utc.month, today)).drafts == []
    async with app_client(settings_for(db_url), clock) as client:
        await login(client, coach.email)
        page = await (await client.get("/billing/invoices")).text()
    assert f'name="month" value="{first:%Y-%m}"' in page and "Noël Jansen-Çelik" in page
    async with unit_of_work(sessions) as session:
        preview = await get_month_preview(session, coach, first.year, first.month, today)
        [issued] = await do_issue_month(session, coach, first.year, first.month, today=today,
                                        fingerprint=preview.fingerprint, now=clock.now())
    assert (issued.number, issued.issue_date, issued.period_start, issued.period_end) == (
        _number(today, 1), today, first, last)
    assert (issued.net, xsd_errors(issued.ubl), check(issued.ubl)) == (4000, [], [])
