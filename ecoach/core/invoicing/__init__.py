"""Invoicing for a Dutch coaching practice (pure: no database, no web).

Give it typed input, get documents back::

    invoice = Invoice(number, issue_date, seller, client, lines, due_date=...)
    totals = compute(invoice)              # every amount, EN 16931 rounding; checks the invoice
    to_ubl(invoice, totals)                # e-invoice: UBL 2.1, SI-UBL 2.0 / NLCIUS (bytes)
    to_pdf(invoice, totals)                # readable A4 PDF in the client's language (bytes)
    to_csv(invoices, language="nl")        # bookkeeping CSV, one row per line (bytes)
    monthly_invoices(items, seller=..., issue_date=..., next_number=...)  # per client and month
    credit_note_for(invoice, number=..., issue_date=...)

Bad input raises :class:`InvoiceError` (``code``, translatable ``message``, ``params``).
"""

from ecoach.core.invoicing.amounts import LineAmounts, Totals, VatBreakdown, compute, money
from ecoach.core.invoicing.csv_export import COLUMNS as CSV_COLUMNS
from ecoach.core.invoicing.csv_export import to_csv
from ecoach.core.invoicing.errors import InvoiceError
from ecoach.core.invoicing.model import (
    NL_RATES,
    Address,
    Client,
    CreditedInvoice,
    DocumentKind,
    Invoice,
    Line,
    Seller,
    Unit,
    Vat,
    VatCategory,
    clean_text,
)
from ecoach.core.invoicing.monthly import BillableItem, credit_note_for, month_bounds, monthly_invoices
from ecoach.core.invoicing.pdf import Fonts, to_pdf
from ecoach.core.invoicing.ubl import EN16931, NLCIUS, PROFILE, customization_id, to_ubl

__all__ = [
    "Address", "BillableItem", "CSV_COLUMNS", "Client", "CreditedInvoice", "DocumentKind", "EN16931",
    "Fonts", "Invoice", "InvoiceError", "Line", "LineAmounts", "NLCIUS", "NL_RATES", "PROFILE", "Seller",
    "Totals", "Unit", "Vat", "VatBreakdown", "VatCategory", "clean_text", "compute", "credit_note_for",
    "customization_id", "money", "month_bounds", "monthly_invoices", "to_csv", "to_pdf", "to_ubl",
]
