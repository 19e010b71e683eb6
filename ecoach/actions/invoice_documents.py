"""Issued invoices as files: the bookkeeping CSV of a month (all clients or one), each
invoice's UBL (as issued) and PDF (drawn from the stored invoice, the same every time),
and a month's UBL files with its CSV in one ZIP for the bookkeeper."""

from __future__ import annotations

import asyncio
import io
import zipfile
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_, NotFound
from ecoach.core.invoice_json import from_json
from ecoach.core.invoicing import Invoice, month_bounds, to_csv, to_pdf
from ecoach.logbook import billing_queries as bq
from ecoach.logbook.billing_models import InvoiceRecord
from ecoach.logbook.models import Coach


@dataclass(frozen=True)
class IssuedRow:
    record: InvoiceRecord
    invoice: Invoice
    credited: bool  # a credit note credits it

    @property
    def gross(self) -> Decimal:
        return Decimal(self.record.gross) / 100 * self.invoice.sign


async def get_issued(session: AsyncSession, coach: Coach, year: int, month: int,
                     client_number: str | None = None) -> list[IssuedRow]:
    first, last = month_bounds(year, month)
    records = await bq.get_invoices(session, coach.id, first, last, client_number)
    credited = await bq.get_credited_ids(session, [r.id for r in records])
    return [IssuedRow(r, from_json(r.document), r.id in credited) for r in records]


async def month_csv(session: AsyncSession, coach: Coach, year: int, month: int, client_number: str | None,
                    language: str) -> bytes:
    rows = await get_issued(session, coach, year, month, client_number)
    return to_csv([row.invoice for row in rows], language=language)


async def get_issued_invoice(session: AsyncSession, coach: Coach, invoice_id: int) -> InvoiceRecord:
    record = await bq.get_invoice(session, coach.id, invoice_id)
    if record is None:
        raise NotFound("invoice_unknown", N_("This invoice does not exist."))
    return record


async def invoice_pdf(record: InvoiceRecord) -> bytes:
    """The readable PDF (about a tenth of a second of work: done off the event loop)."""
    return await asyncio.to_thread(to_pdf, from_json(record.document))


def _zip_time(day: date) -> tuple[int, int, int, int, int, int]:
    moment = datetime.combine(day, time(12))
    return (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


async def month_zip(session: AsyncSession, coach: Coach, year: int, month: int, language: str) -> bytes:
    rows = await get_issued(session, coach, year, month)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in rows:
            info = zipfile.ZipInfo(f"{row.record.number}.xml", _zip_time(row.record.issue_date))
            archive.writestr(info, row.record.ubl, zipfile.ZIP_DEFLATED)
        info = zipfile.ZipInfo(f"invoices-{year:04d}-{month:02d}.csv", _zip_time(month_bounds(year, month)[1]))
        archive.writestr(info, to_csv([row.invoice for row in rows], language=language), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()
