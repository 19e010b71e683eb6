"""The monthly invoice run: preview a month, issue it, credit an invoice.

A month's billable usage that no invoice holds becomes one invoice per client (the
invoicing core's ``monthly_invoices``). Issuing happens in one transaction that starts by
locking the coach's number sequence of the year (``logbook.billing_locks``): the preview
is computed again under the lock, must equal the one the coach saw (its fingerprint), the
invoices get consecutive numbers, their UBL is made and stored, and each usage entry is
linked to its invoice (at most once: a primary key). A rollback gives everything back,
numbers included. Issued invoices never change: a correction is a credit note
(``credit_note_for``), which releases the credited invoice's usage to be billed again.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from babel.dates import format_date
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.billing_setup import client_of, refused, seller_of
from ecoach.actions.errors import ActionError, Conflict, N_, NotFound
from ecoach.core.bundles import VatChoice, euros
from ecoach.core.i18n import gettext_for
from ecoach.core.invoice_json import from_json, to_json
from ecoach.core.invoicing import (
    BillableItem, Invoice, InvoiceError, Seller, Totals, Unit, Vat, compute, credit_note_for, month_bounds,
    monthly_invoices, to_ubl,
)
from ecoach.logbook import billing_queries as bq
from ecoach.logbook.billing_locks import lock_invoice_numbers, set_last_invoice_number
from ecoach.logbook.billing_models import BillingClient, InvoiceRecord, InvoiceUsage
from ecoach.logbook.models import Coach

log = logging.getLogger(__name__)

SESSION = N_("Coaching session")
WRITTEN = N_("Written coaching")
REASONS = {
    VatChoice.exempt_crkbo: N_("Exempt from VAT under art. 11(1)(o) of the Dutch VAT Act 1968 "
                               "(education by a CRKBO-registered teacher)"),
    VatChoice.exempt_kor: N_("Exempt from VAT: small-business scheme (KOR), art. 25 of the Dutch VAT Act 1968"),
}
VAT_NAMES = {
    VatChoice.standard_21: N_("VAT at 21 percent"), VatChoice.standard_9: N_("VAT at 9 percent"),
    VatChoice.exempt_crkbo: N_("Exempt: CRKBO-registered education"),
    VatChoice.exempt_kor: N_("Exempt: small-business scheme (KOR)"),
}


def vat_of(choice: str, language: str) -> Vat:
    chosen = VatChoice(choice)
    if chosen is VatChoice.standard_21:
        return Vat.standard(21)
    if chosen is VatChoice.standard_9:
        return Vat.standard(9)
    return Vat.exempt(gettext_for(language)(REASONS[chosen]))


def number_of(year: int, sequence: int) -> str:
    return f"{year}-{sequence:04d}"


@dataclass
class Draft:
    client: BillingClient
    invoice: Invoice
    totals: Totals
    usage_ids: list[int]


@dataclass
class Preview:
    first: date
    last: date
    drafts: list[Draft] = field(default_factory=list)
    unbillable: list[bq.Unbilled] = field(default_factory=list)  # no client (yet), or detached
    error: ActionError | None = None
    fingerprint: str = ""

    @property
    def total(self) -> Decimal:
        return sum((d.totals.payable for d in self.drafts), Decimal("0"))


def _item(row: bq.Unbilled, client: Any, vat: Vat, language: str) -> BillableItem:
    entry, plan = row.entry, row.plan
    _ = gettext_for(language)
    combine = None
    if entry.kind == "reply":
        text, combine = _(WRITTEN), "written"
    elif entry.kind == "session":
        text = entry.label or _(SESSION)  # the kind of session, as the coach named it
    elif plan is not None and plan.ends_on is not None:
        period = (format_date(plan.starts_on, "d MMM y", locale=language),
                  format_date(plan.ends_on, "d MMM y", locale=language))
        text = f"{entry.label} ({period[0]} – {period[1]})"
    else:
        text = entry.label or _(SESSION)
    return BillableItem(client=client, day=entry.day, description=text, quantity=Decimal(entry.quantity),
                        unit=Unit(entry.unit), unit_price=euros(entry.unit_price) or Decimal("0"), vat=vat,
                        base_quantity=Decimal(entry.base_quantity), combine=combine)


def _fingerprint(rows: list[bq.Unbilled]) -> str:
    text = ";".join(f"{r.entry.id}:{r.client.id if r.client else '-'}:{r.entry.quantity}:{r.entry.unit_price}"
                    for r in sorted(rows, key=lambda r: r.entry.id))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


async def _seller(session: AsyncSession, coach: Coach) -> tuple[Seller, Any]:
    practice = await bq.get_practice(session, coach.id)
    if practice is None:
        raise Conflict("practice_missing", N_("Fill in your practice's details first (Invoices → Practice)."))
    try:
        return seller_of(practice.details), practice
    except InvoiceError as exc:
        raise refused(exc) from None


async def get_month_preview(session: AsyncSession, coach: Coach, year: int, month: int, today: date,
                            next_number: Callable[[], str] | None = None) -> Preview:
    """The invoices the month's open usage would make (numbered "-" unless ``next_number``)."""
    first, last = month_bounds(year, month)
    preview = Preview(first, last)
    rows = await bq.get_unbilled(session, coach.id, first, last)
    billable = [r for r in rows if r.client is not None and r.plan is not None]
    preview.unbillable = [r for r in rows if r.client is None or r.plan is None]
    preview.fingerprint = _fingerprint(billable)
    if not billable:
        return preview
    try:
        seller, practice = await _seller(session, coach)
        clients = {r.client.id: (r.client, client_of(r.client)) for r in billable}  # type: ignore[union-attr]
        items = [_item(r, clients[r.client.id][1], vat_of(r.plan.vat or practice.vat, r.client.language),  # type: ignore[union-attr]
                       r.client.language) for r in billable]  # type: ignore[union-attr]
        invoices = monthly_invoices(items, seller=seller, issue_date=today, payment_days=practice.payment_days,
                                    next_number=next_number or (lambda: "-"))
    except InvoiceError as exc:
        preview.error = refused(exc)
        return preview
    except ActionError as exc:
        preview.error = exc
        return preview
    by_number = {core.number: record for record, core in clients.values()}
    for invoice in invoices:
        record = by_number[invoice.client.number]
        ids = [r.entry.id for r in billable if r.client is record]
        preview.drafts.append(Draft(record, invoice, compute(invoice), ids))
    return preview


def _cents(amount: Decimal) -> int:
    return int(amount * 100)


def _record(coach: Coach, invoice: Invoice, totals: Totals, client_id: int | None, now: datetime,
            credited_id: int | None = None) -> InvoiceRecord:
    assert invoice.period_start is not None and invoice.period_end is not None
    return InvoiceRecord(coach_id=coach.id, number=invoice.number, kind=invoice.kind.value,
                         issue_date=invoice.issue_date, period_start=invoice.period_start,
                         period_end=invoice.period_end, client_id=client_id, client_number=invoice.client.number,
                         credited_id=credited_id, net=_cents(totals.net), vat=_cents(totals.vat),
                         gross=_cents(totals.gross), created_at=now, document=to_json(invoice),
                         ubl=to_ubl(invoice, totals))


async def do_issue_month(session: AsyncSession, coach: Coach, year: int, month: int, *, today: date,
                         fingerprint: str, now: datetime) -> list[InvoiceRecord]:
    """Issue the month's invoices as previewed; refused (and nothing taken) when the month
    changed since the preview, or has nothing to bill."""
    last = await lock_invoice_numbers(session, coach.id, today.year)  # the transaction's first statement
    taken = [last]

    def next_number() -> str:
        taken.append(taken[-1] + 1)
        return number_of(today.year, taken[-1])

    preview = await get_month_preview(session, coach, year, month, today, next_number)
    if preview.error is not None:
        raise preview.error
    if preview.fingerprint != fingerprint:
        raise Conflict("month_changed", N_("The month has changed since you looked at it: check the new preview, "
                                           "then issue again."))
    if not preview.drafts:
        raise Conflict("nothing_to_invoice", N_("There is nothing to invoice in this month."))
    records = []
    for draft in preview.drafts:
        record = _record(coach, draft.invoice, draft.totals, draft.client.id, now)
        session.add(record)
        await session.flush()
        session.add_all([InvoiceUsage(usage_id=u, invoice_id=record.id) for u in draft.usage_ids])
        records.append(record)
    await session.flush()
    await set_last_invoice_number(session, coach.id, today.year, taken[-1])
    log.info("coach %s issued %d invoices for %04d-%02d (%s to %s)", coach.id, len(records), year, month,
             records[0].number, records[-1].number)
    return records


async def do_credit_invoice(session: AsyncSession, coach: Coach, invoice_id: int, *, today: date,
                            now: datetime) -> InvoiceRecord:
    """A credit note for the whole of an invoice; its usage may be billed again."""
    last = await lock_invoice_numbers(session, coach.id, today.year)  # the transaction's first statement
    original = await bq.get_invoice(session, coach.id, invoice_id)
    if original is None:
        raise NotFound("invoice_unknown", N_("This invoice does not exist."))
    if original.kind != "380":
        raise Conflict("credit_credit", N_("A credit note cannot itself be credited."))
    if await bq.get_credited_ids(session, [original.id]):
        raise Conflict("credited_already", N_("This invoice has been credited already."))
    credit = credit_note_for(from_json(original.document), number=number_of(today.year, last + 1),
                             issue_date=max(today, original.issue_date))
    record = _record(coach, credit, compute(credit), original.client_id, now, credited_id=original.id)
    session.add(record)
    await session.execute(delete(InvoiceUsage).where(InvoiceUsage.invoice_id == original.id))
    await session.flush()
    await set_last_invoice_number(session, coach.id, today.year, last + 1)
    log.info("coach %s credited invoice %s with %s", coach.id, original.number, record.number)
    return record
