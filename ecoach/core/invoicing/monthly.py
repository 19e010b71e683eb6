"""From billable items to invoices: one invoice per client per calendar month.

The caller (the bundles and time-tracking code) supplies what was billable — sessions
held, minutes of written coaching, bundles bought — as :class:`BillableItem`; this
module groups them, numbers the invoices in a stable order and leaves storing them to
the caller. Numbers come from ``next_number`` so the caller keeps the practice's one
gap-free sequence (a Dutch legal requirement) in its database.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from ecoach.core.invoicing.amounts import compute
from ecoach.core.invoicing.errors import N_, InvoiceError
from ecoach.core.invoicing.model import Client, CreditedInvoice, DocumentKind, Invoice, Line, Seller, Unit, Vat


@dataclass(frozen=True)
class BillableItem:
    """One thing to bill. Items of one client and month with the same ``combine`` key
    (and the same unit, price and VAT) become one line with their quantities added:
    ``combine="written"`` turns a month of short written replies into one line."""

    client: Client
    day: date
    description: str
    quantity: Decimal
    unit: Unit
    unit_price: Decimal
    vat: Vat
    base_quantity: Decimal = Decimal("1")
    combine: str | None = None


def month_bounds(year: int, month: int) -> tuple[date, date]:
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])


def _line(items: list[BillableItem]) -> Line:
    first = items[0]
    return Line(description=first.description, quantity=sum((i.quantity for i in items), Decimal("0")),
                unit=first.unit, unit_price=first.unit_price, vat=first.vat, base_quantity=first.base_quantity,
                start=min(i.day for i in items), end=max(i.day for i in items))


def _lines(items: list[BillableItem]) -> tuple[Line, ...]:
    """Lines in date order; combined items sit where their first day is."""
    groups: dict[object, list[BillableItem]] = {}
    for position, item in enumerate(sorted(items, key=lambda i: i.day)):
        key = ((item.combine, item.unit, item.unit_price, item.base_quantity, item.vat)
               if item.combine is not None else position)
        groups.setdefault(key, []).append(item)
    return tuple(_line(group) for group in groups.values())


def _client_of(items: list[BillableItem]) -> Client:
    clients = {item.client for item in items}
    if len(clients) > 1:
        raise InvoiceError("client_changed", N_("Client %(number)s has different details on different "
                                                "items; give every item the same client."),
                           number=items[0].client.number)
    return items[0].client


def monthly_invoices(items: Iterable[BillableItem], *, seller: Seller, issue_date: date,
                     next_number: Callable[[], str], payment_days: int = 14,
                     note: str | None = None) -> list[Invoice]:
    """One invoice per client and month of ``items``, ordered by month, then client name.

    Each invoice covers its calendar month (BG-14), is dated ``issue_date``, due
    ``payment_days`` later, and is checked (amounts computed) before it is returned,
    so a bad item fails here with a clear error and no number is taken after it.
    """
    if payment_days < 0:
        raise InvoiceError("due_date", N_("The due date cannot be before the invoice date."))
    groups: dict[tuple[int, int, str], list[BillableItem]] = {}
    for item in items:
        groups.setdefault((item.day.year, item.day.month, item.client.number), []).append(item)
    order = sorted(groups, key=lambda k: (k[0], k[1], groups[k][0].client.name.casefold(), k[2]))
    drafts = []
    for year, month, number in order:
        group = groups[(year, month, number)]
        start, end = month_bounds(year, month)
        drafts.append((_client_of(group), _lines(group), start, end))
    invoices = []
    for client, lines, start, end in drafts:
        draft = Invoice(number="-", issue_date=issue_date, seller=seller, client=client, lines=lines,
                        due_date=issue_date + timedelta(days=payment_days), period_start=start,
                        period_end=end, note=note)
        compute(draft)  # every check before a number is taken
        invoices.append(draft)
    return [_numbered(draft, next_number()) for draft in invoices]


def _numbered(draft: Invoice, number: str) -> Invoice:
    return Invoice(number=number, issue_date=draft.issue_date, seller=draft.seller, client=draft.client,
                   lines=draft.lines, due_date=draft.due_date, period_start=draft.period_start,
                   period_end=draft.period_end, note=draft.note)


def credit_note_for(invoice: Invoice, *, number: str, issue_date: date,
                    lines: Iterable[Line] | None = None, note: str | None = None) -> Invoice:
    """A credit note for ``invoice``: all of it, or only ``lines`` (positive quantities)."""
    if invoice.is_credit_note:
        raise InvoiceError("credited", N_("A credit note cannot itself be credited."))
    return Invoice(number=number, issue_date=issue_date, seller=invoice.seller, client=invoice.client,
                   lines=tuple(lines) if lines is not None else invoice.lines, period_start=invoice.period_start,
                   period_end=invoice.period_end, note=note, kind=DocumentKind.credit_note,
                   credited=CreditedInvoice(invoice.number, invoice.issue_date))
