"""A contract version as an A4 PDF with real (searchable) text.

The same library and font as the invoices (fpdf2, DejaVu Sans from ``fonts-dejavu-core``:
``ecoach.core.invoicing.pdf.Fonts``); the same words as the printable page
(``ecoach.core.contract_document``). The PDF's date is the version's offer (or acceptance)
time, so one version gives the same bytes.
"""

from __future__ import annotations

from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from ecoach.core import contract_document as d
from ecoach.core.i18n import translations
from ecoach.core.invoicing.pdf import FAMILY, GREY, Fonts


class FontMissing(Exception):
    """The PDF font is not installed; the message names the Debian package."""


class _Page(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-14)
        self.set_font(FAMILY, "", 7.5)
        self.set_text_color(*GREY)
        self.cell(0, 5, f"{self.footer_text} · {self.page_no()}/{{nb}}", align="C")


def to_pdf(doc: d.ContractDocument, fonts: Fonts = Fonts()) -> bytes:
    _ = translations(doc.language).gettext
    pdf = _start(doc, fonts, _)
    _heading(pdf, doc, _)
    _section(pdf, _(d.PARTIES), _parties(doc, _))
    if doc.goals:
        _goals(pdf, doc, _)
    _section(pdf, _(d.ASKS), [])
    for party, key in (("coach", "coach_asks"), ("coachee", "coachee_asks"), ("sponsor", "sponsor_asks")):
        if party != "sponsor" or doc.triangular:
            _sub(pdf, _(d.ASKS_OF[party]), doc.terms.get(key, ""))
    _section(pdf, _(d.PRACTICAL), [*d.practical_lines(doc, _), doc.terms.get("practicalities", "")])
    if doc.availability:
        _section(pdf, _(d.AVAILABILITY), [*doc.availability, _(d.AVAILABILITY_NOTE)])
    _section(pdf, _(d.CONFIDENTIALITY), [doc.terms.get("confidentiality", ""), *d.sponsor_lines(doc, _)])
    _section(pdf, _(d.SECRECY), [doc.terms.get("secrecy", "")])
    _section(pdf, _(d.AI), [d.ai_line(doc, _)])
    _section(pdf, _(d.REFERRAL), [doc.terms.get("referral", "")])
    if doc.help_lines:
        _help_lines(pdf, doc, _)
    _section(pdf, _(d.ACCEPTANCE), _acceptance(doc, _))
    return bytes(pdf.output())


def _start(doc: d.ContractDocument, fonts: Fonts, _) -> _Page:  # type: ignore[no-untyped-def]
    for path in (fonts.regular, fonts.bold):
        if not Path(path).is_file():
            raise FontMissing(f"The PDF font {path} is missing: install the Debian package fonts-dejavu-core.")
    pdf = _Page(format="A4", unit="mm")
    pdf.add_font(FAMILY, "", str(fonts.regular))
    pdf.add_font(FAMILY, "B", str(fonts.bold))
    pdf.set_margins(20, 18, 20)
    pdf.set_auto_page_break(True, margin=20)
    moment = doc.accepted_at or doc.offered_at
    if moment is not None:
        pdf.set_creation_date(moment)
    title = f"{_(d.TITLE)} · {_(d.VERSION) % {'version': doc.version}}"
    pdf.set_title(title)
    pdf.set_author(doc.coach_name)
    pdf.set_creator("ecoach")
    pdf.set_lang(doc.language)
    pdf.footer_text = f"{title} · {doc.coachee_name}"
    pdf.add_page()
    return pdf


def _write(pdf: FPDF, text: str, size: float = 10, bold: bool = False, height: float = 5.2) -> None:
    if not text:
        return
    pdf.set_font(FAMILY, "B" if bold else "", size)
    pdf.multi_cell(0, height, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _heading(pdf: FPDF, doc: d.ContractDocument, _) -> None:  # type: ignore[no-untyped-def]
    _write(pdf, _(d.TITLE), size=20, bold=True, height=10)
    _write(pdf, f"{_(d.VERSION) % {'version': doc.version}} · {_(d.STATUS[doc.status])}", size=11)
    if doc.fingerprint:
        pdf.set_text_color(*GREY)
        _write(pdf, _(d.FINGERPRINT) % {"fingerprint": doc.fingerprint}, size=7.5, height=4)
        pdf.set_text_color(0, 0, 0)
    pdf.ln(3)


def _section(pdf: FPDF, title: str, lines: list[str]) -> None:
    pdf.ln(2)
    _write(pdf, title, size=13, bold=True, height=7)
    for line in lines:
        _write(pdf, line)
        if line:
            pdf.ln(1)


def _sub(pdf: FPDF, title: str, text: str) -> None:
    _write(pdf, title, size=10.5, bold=True, height=6)
    _write(pdf, text)
    pdf.ln(1)


def _parties(doc: d.ContractDocument, _) -> list[str]:  # type: ignore[no-untyped-def]
    lines = [f"{_(d.COACH)}: {doc.coach_name}", f"{_(d.COACHEE)}: {doc.coachee_name}"]
    if doc.triangular and doc.sponsor_organisation:
        lines.append(f"{_(d.SPONSOR)}: {doc.sponsor_organisation} ({doc.sponsor_name})")
    return lines


def _goals(pdf: FPDF, doc: d.ContractDocument, _) -> None:  # type: ignore[no-untyped-def]
    _section(pdf, _(d.GOALS), [])
    for goal in doc.goals:
        _write(pdf, f"{_(d.GOAL) % {'n': goal.position}}: {goal.title}", size=10.5, bold=True, height=6)
        _write(pdf, _(d.INDICATORS), size=9.5)
        for indicator in goal.indicators:
            pdf.set_x(pdf.l_margin + 4)
            _write(pdf, f"• {indicator}")
        if goal.score is not None:
            _write(pdf, _(d.SCORE) % {"score": goal.score})
        pdf.ln(2)


def _help_lines(pdf: FPDF, doc: d.ContractDocument, _) -> None:  # type: ignore[no-untyped-def]
    _write(pdf, _(d.HELP_LINES), size=10.5, bold=True, height=6)
    for resource in doc.help_lines:
        reach = ", ".join([*resource.phones, *([resource.url] if resource.url else [])])
        _write(pdf, f"{resource.name}: {reach}", bold=True, size=9.5)
        _write(pdf, resource.description, size=9.5)
        pdf.ln(1)


def _acceptance(doc: d.ContractDocument, _) -> list[str]:  # type: ignore[no-untyped-def]
    names = {"coachee": _(d.COACHEE), "sponsor": _(d.SPONSOR)}
    lines = [_(d.ACCEPTED_BY) % {"name": a.name, "party": names[a.party], "when": doc.moment(a.accepted_at)}
             for a in doc.acceptances]
    if doc.missing:
        lines.append(_(d.NOT_ACCEPTED) % {"parties": ", ".join(names[p] for p in doc.missing)})
    return lines
