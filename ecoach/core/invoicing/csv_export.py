"""The bookkeeping CSV: one row per invoice line, amounts equal to the UBL's.

Columns, in order (header in the chosen language)::

    invoice number · invoice date · document (invoice / credit note) · client number ·
    client · description · date (of the session or the line's first day) · quantity ·
    unit · price · price per (the quantity the price holds for, usually 1) ·
    net · VAT category (standard / zero rate / exempt / reverse charge) · VAT rate (%) ·
    VAT · gross

Made for Excel and Dutch bookkeeping software:

- **UTF-8 with a byte order mark**, so Excel shows €, ë and ï rightly; CRLF line ends.
- **Dutch** (``language="nl"``): fields separated by ``;`` and a decimal **comma**
  (``1234,50``), as Excel with Dutch regional settings opens it by double-click.
  **English**: ``,`` and a decimal point. No thousands separators, ever.
- Dates ISO 8601 (``2026-11-30``), which Excel and importers read in any locale.
- Amounts in euro with two decimals. A **credit note's** quantity, net, VAT and gross
  are negative, so a column sum over invoices and credit notes is the turnover.
- Line VAT is the line's share of its VAT breakdown (see ``amounts``): per invoice and
  rate, the VAT column sums exactly to the UBL's ``TaxSubtotal/TaxAmount``.
- Text that Excel would run as a formula (starting with ``=``, ``+``, ``-``, ``@``,
  tab or CR) gets a leading apostrophe; line breaks in descriptions become spaces.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from decimal import Decimal

from ecoach.core.invoicing.amounts import LineAmounts, Totals, compute
from ecoach.core.invoicing.errors import N_
from ecoach.core.invoicing.labels import Words
from ecoach.core.invoicing.model import Invoice
from ecoach.core.invoicing.ubl import amount, number

COLUMNS = (
    N_("Invoice number"), N_("Invoice date"), N_("Document"), N_("Client number"), N_("Client"),
    N_("Description"), N_("Date"), N_("Quantity"), N_("Unit"), N_("Price"), N_("Price per"),
    N_("Net"), N_("VAT category"), N_("VAT rate"), N_("VAT"), N_("Gross"),
)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    flat = " ".join(value.split())
    return "'" + flat if flat.startswith(_FORMULA_START) else flat


def _row(invoice: Invoice, part: LineAmounts, words: Words, comma: bool) -> list[str]:
    def num(text: str) -> str:
        return text.replace(".", ",") if comma else text

    sign = Decimal(invoice.sign)
    line = part.line
    return [
        _text(invoice.number), invoice.issue_date.isoformat(), words.document(invoice.kind),
        _text(invoice.client.number), _text(invoice.client.name), _text(line.description),
        line.start.isoformat() if line.start else "",
        num(number(sign * line.quantity)), words.unit(line.unit), num(number(line.unit_price)),
        num(number(line.base_quantity)),
        num(amount(sign * part.net)), words.vat_name(line.vat.category), num(number(line.vat.rate)),
        num(amount(sign * part.vat)), num(amount(sign * part.gross)),
    ]


def to_csv(invoices: Iterable[Invoice], language: str = "nl",
           totals: Iterable[Totals] | None = None) -> bytes:
    """The CSV of ``invoices`` (their ``totals`` when already computed), as bytes."""
    words = Words(language)
    comma = words.language == "nl"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if comma else ",", lineterminator="\r\n")
    writer.writerow([words.gettext(column) for column in COLUMNS])
    invoices = list(invoices)
    all_totals = list(totals) if totals is not None else [compute(invoice) for invoice in invoices]
    for invoice, invoice_totals in zip(invoices, all_totals, strict=True):
        for part in invoice_totals.lines:
            writer.writerow(_row(invoice, part, words, comma))
    return buffer.getvalue().encode("utf-8-sig")
