"""The readable invoice: an A4 PDF with real (searchable, copyable) text.

Made with fpdf2 (pure Python, well kept): TrueType fonts with full Unicode (€, ë, ï),
tables that break across pages with their header repeated, text that wraps. The same
library serves the coaching-contract PDFs later (``multi_cell`` with markdown,
``write_html``), so ecoach carries one PDF library.

The font is DejaVu Sans from Debian's ``fonts-dejavu-core`` (installed by ``run`` and
``run-tests``); another TrueType font can be passed in. The output depends only on the
invoice: the PDF's creation date is the invoice date, so one invoice gives the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ecoach.core.invoicing.amounts import Totals, compute
from ecoach.core.invoicing.errors import N_, InvoiceError
from ecoach.core.invoicing.labels import Words
from ecoach.core.invoicing.model import Invoice, Line, VatCategory

DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
FAMILY = "ecoach"
GREY = (90, 90, 90)


@dataclass(frozen=True)
class Fonts:
    regular: Path = DEJAVU / "DejaVuSans.ttf"
    bold: Path = DEJAVU / "DejaVuSans-Bold.ttf"


class _Page(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.footer_text} · {self.page_no()}/{{nb}}", align="C")


def to_pdf(invoice: Invoice, totals: Totals | None = None, fonts: Fonts = Fonts()) -> bytes:
    """The invoice (or credit note) as PDF, in the client's language (``invoice.language``)."""
    totals = totals or compute(invoice)
    words = Words(invoice.language)
    pdf = _start(invoice, words, fonts)
    _seller(pdf, invoice, words)
    _title(pdf, invoice, words)
    _client_and_facts(pdf, invoice, words)
    _lines(pdf, invoice, totals, words)
    _totals(pdf, invoice, totals, words)
    _payment(pdf, invoice, totals, words)
    return bytes(pdf.output())


def _start(invoice: Invoice, words: Words, fonts: Fonts) -> _Page:
    for path in (fonts.regular, fonts.bold):
        if not Path(path).is_file():
            raise InvoiceError("font", N_("The PDF font %(path)s is missing: install the Debian "
                                          "package fonts-dejavu-core."), path=str(path))
    pdf = _Page(format="A4", unit="mm")
    pdf.add_font(FAMILY, "", str(fonts.regular))
    pdf.add_font(FAMILY, "B", str(fonts.bold))
    pdf.set_margins(18, 16, 18)
    pdf.set_auto_page_break(True, margin=20)
    pdf.set_creation_date(datetime.combine(invoice.issue_date, time(), tzinfo=timezone.utc))
    pdf.set_title(f"{words.document(invoice.kind)} {invoice.number}")
    pdf.set_author(invoice.seller.name)
    pdf.set_creator("ecoach")
    pdf.set_lang(invoice.language)
    kvk, vat_label = words.gettext("KvK"), words.gettext("VAT number")
    pdf.footer_text = " · ".join(
        [invoice.seller.name, f"{kvk} {invoice.seller.kvk}",
         f"{vat_label} {invoice.seller.vat_number}", f"IBAN {invoice.seller.iban}"])
    pdf.add_page()
    return pdf


def _text(pdf: FPDF, text: str, size: float = 9.5, bold: bool = False, height: float = 4.8,
          align: str = "L", width: float = 0) -> None:
    pdf.set_font(FAMILY, "B" if bold else "", size)
    pdf.multi_cell(width, height, text, align=align, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _seller(pdf: FPDF, invoice: Invoice, words: Words) -> None:
    seller = invoice.seller
    kvk, vat_label = words.gettext("KvK"), words.gettext("VAT number")
    top = pdf.get_y()
    _text(pdf, seller.trade_name or seller.name, size=15, bold=True, height=7, width=95)
    address = [seller.address.street, *([seller.address.extra] if seller.address.extra else []),
               f"{seller.address.postal_code} {seller.address.city}"]
    if seller.trade_name:
        address.insert(0, seller.name)
    _text(pdf, "\n".join(address), width=95)
    below = pdf.get_y()
    facts = [f"{kvk} {seller.kvk}", f"{vat_label} {seller.vat_number}",
             f"IBAN {seller.iban}", *([f"BIC {seller.bic}"] if seller.bic else []), seller.email,
             *([seller.phone] if seller.phone else [])]
    pdf.set_xy(pdf.w - pdf.r_margin - 70, top)
    pdf.set_text_color(*GREY)
    _text(pdf, "\n".join(facts), size=8.5, height=4.3, align="R", width=70)
    pdf.set_text_color(0, 0, 0)
    pdf.set_y(max(below, pdf.get_y()) + 8)


def _title(pdf: FPDF, invoice: Invoice, words: Words) -> None:
    _text(pdf, words.document(invoice.kind), size=20, bold=True, height=10)
    pdf.ln(2)


def _facts(invoice: Invoice, words: Words) -> list[tuple[str, str]]:
    label = words.gettext("Credit note number") if invoice.is_credit_note else words.gettext("Invoice number")
    facts = [(label, invoice.number), (words.gettext("Date"), words.date(invoice.issue_date))]
    if invoice.due_date and not invoice.is_credit_note:
        facts.append((words.gettext("Due date"), words.date(invoice.due_date)))
    if invoice.period_start and invoice.period_end:
        period = f"{words.date(invoice.period_start)} – {words.date(invoice.period_end)}"
        facts.append((words.gettext("Period"), period))
    facts.append((words.gettext("Client number"), invoice.client.number))
    if invoice.client.reference:
        facts.append((words.gettext("Your reference"), invoice.client.reference))
    if invoice.client.order_reference:
        facts.append((words.gettext("Order number"), invoice.client.order_reference))
    if invoice.credited:
        facts.append((words.gettext("Credits invoice"),
                      f"{invoice.credited.number} ({words.date(invoice.credited.issue_date)})"))
    return facts


def _client_and_facts(pdf: FPDF, invoice: Invoice, words: Words) -> None:
    client = invoice.client
    kvk, vat_label, attn = words.gettext("KvK"), words.gettext("VAT number"), words.gettext("Attn.")
    top = pdf.get_y()
    lines = [client.name, *([f"{attn} {client.contact}"] if client.contact else []),
             client.address.street, *([client.address.extra] if client.address.extra else []),
             f"{client.address.postal_code} {client.address.city}"]
    if client.address.country != invoice.seller.address.country:
        lines.append(client.address.country)
    lines += [f"{vat_label} {client.vat_number}"] if client.vat_number else []
    lines += [f"{kvk} {client.kvk}"] if client.kvk else []
    _text(pdf, "\n".join(lines), width=80)
    below = pdf.get_y()
    pdf.set_y(top)
    for label, value in _facts(invoice, words):
        pdf.set_x(pdf.w - pdf.r_margin - 90)
        pdf.set_font(FAMILY, "", 9)
        pdf.set_text_color(*GREY)
        pdf.cell(33, 4.8, label)
        pdf.set_text_color(0, 0, 0)
        pdf.multi_cell(57, 4.8, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_y(max(below, pdf.get_y()) + 8)


def _quantity(line: Line, words: Words) -> str:
    short = words.unit_short(line.unit)
    return f"{words.number(line.quantity)} {short}".strip()


def _price(line: Line, words: Words) -> str:
    price = words.money(line.unit_price)
    if line.base_quantity == 1:
        return price
    return f"{price} / {words.number(line.base_quantity)} {words.unit_short(line.unit)}".strip()


def _vat_cell(line: Line, words: Words) -> str:
    if line.vat.category is VatCategory.standard:
        return f"{words.number(line.vat.rate)}%"
    return words.vat_name(line.vat.category)


def _lines(pdf: FPDF, invoice: Invoice, totals: Totals, words: Words) -> None:
    pdf.set_font(FAMILY, "", 8.8)
    headings = [words.gettext("Description"), words.gettext("Date"), words.gettext("Quantity"),
                words.gettext("Price"), words.gettext("VAT"), words.gettext("Amount")]
    with pdf.table(col_widths=(60, 22, 16, 31, 21, 24), text_align=("LEFT", "LEFT", "RIGHT", "RIGHT",
                   "RIGHT", "RIGHT"), borders_layout="HORIZONTAL_LINES", line_height=4.6,
                   padding=(1.2, 1, 1.2, 1), headings_style=_heading_style()) as table:
        table.row(headings)
        for part in totals.lines:
            line = part.line
            when = words.short_date(line.start) if line.start else ""
            if line.start and line.end and line.end != line.start:
                when = f"{when} – {words.short_date(line.end)}"
            table.row([line.description, when, _quantity(line, words), _price(line, words),
                       _vat_cell(line, words), words.money(invoice.sign * part.net)])
    pdf.ln(4)


def _heading_style():  # type: ignore[no-untyped-def]
    from fpdf.fonts import FontFace

    return FontFace(emphasis="BOLD", fill_color=(238, 238, 238))


def _total_row(pdf: FPDF, label: str, value: str, bold: bool = False) -> None:
    pdf.set_x(pdf.w - pdf.r_margin - 100)
    pdf.set_font(FAMILY, "B" if bold else "", 10 if bold else 9.2)
    pdf.cell(70, 5.6, label, align="R")
    pdf.cell(30, 5.6, value, align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _totals(pdf: FPDF, invoice: Invoice, totals: Totals, words: Words) -> None:
    sign = invoice.sign
    _total_row(pdf, words.gettext("Subtotal excl. VAT"), words.money(sign * totals.net))
    for part in totals.breakdown:
        base = words.money(sign * part.taxable)
        if part.vat.category is VatCategory.standard:
            label = words.gettext("VAT %(rate)s%% on %(base)s", rate=words.number(part.vat.rate), base=base)
        else:
            label = words.gettext("VAT %(category)s on %(base)s", category=words.vat_name(part.vat.category),
                                  base=base)
        _total_row(pdf, label, words.money(sign * part.tax))
    _total_row(pdf, words.gettext("Total incl. VAT"), words.money(sign * totals.gross), bold=True)
    pdf.ln(3)
    for part in totals.breakdown:
        if part.vat.exemption_reason:
            pdf.set_text_color(*GREY)
            name = words.vat_name(part.vat.category)
            _text(pdf, f"{name[:1].upper()}{name[1:]}: {part.vat.exemption_reason}", size=8.5)
            pdf.set_text_color(0, 0, 0)


def _payment(pdf: FPDF, invoice: Invoice, totals: Totals, words: Words) -> None:
    pdf.ln(4)
    seller = invoice.seller
    if invoice.is_credit_note:
        text = words.gettext("We credit %(amount)s of invoice %(invoice)s; it is set off or paid back to you.",
                     amount=words.money(totals.payable), invoice=invoice.credited.number if invoice.credited else "")
    elif totals.payable > 0 and invoice.due_date is not None:
        text = words.gettext("Please pay %(amount)s by %(date)s to IBAN %(iban)s in the name of %(name)s, "
                     "quoting invoice number %(number)s.", amount=words.money(totals.payable),
                     date=words.date(invoice.due_date), iban=seller.iban, name=seller.name,
                     number=invoice.number)
    else:
        text = words.gettext("Nothing is left to pay on this invoice.")
    _text(pdf, text)
    if invoice.note:
        pdf.ln(3)
        _text(pdf, invoice.note)
