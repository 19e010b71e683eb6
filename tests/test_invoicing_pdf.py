"""The readable PDF: real text (extracted with pypdf), in the client's language."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pypdf import PdfReader

from ecoach.core.invoicing import Fonts, InvoiceError, Vat, compute, to_pdf
from tests.invoicing_support import coachee, invoice, scenarios, session, sponsor

SCENARIOS = scenarios()


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    # babel puts a no-break space between € and the amount; compare with plain spaces
    return "\n".join(page.extract_text() for page in reader.pages).replace("\xa0", " ")


def test_pdf_text_shows_number_lines_vat_and_totals_in_dutch() -> None:
    item = SCENARIOS["sponsor_21_9_exempt"]
    data = to_pdf(item)
    assert data.startswith(b"%PDF-")
    text = _text(data)
    for expected in ("Factuur", "2026-0101", "Vervaldatum", "15 december 2026", "Coaching met Inzicht",
                     "Coachpraktijk Ëlla Smit", "Zorggroep De Linde B.V.", "t.a.v. Afdeling P&O",
                     "Coachsessie (video)", "Werkboek 'Grip op stress'", "Schriftelijke coaching",
                     "Loopbaancoaching (CRKBO)", "€ 95,00", "€ 49,99", "€ 80,00 / 60 min", "45 min",
                     "Btw 21% over € 155,00", "€ 32,55", "Btw 9% over € 49,99", "€ 4,50",
                     "Btw vrijgesteld over € 120,00", "Totaal incl. btw", "€ 362,04",
                     "Vrijgesteld: Vrijgesteld van btw op grond van art. 11", "NL91ABNA0417164300",
                     "KP-4711", "PO-2026-118", "KvK 12345678"):
        assert expected in text, expected
    totals = compute(item)
    assert str(totals.payable).replace(".", ",") in text


def test_pdf_in_english_for_an_english_reading_client() -> None:
    text = _text(to_pdf(SCENARIOS["coachee_21_and_9"]))
    for expected in ("Invoice", "Due date", "Total incl. VAT", "VAT 21% on", "Please pay",
                     "Noël Jansen-Çelik", "Laan van Ïnsulinde 3", "2512 AB Den Haag"):
        assert expected in text, expected


def test_credit_note_pdf() -> None:
    text = _text(to_pdf(SCENARIOS["credit_note"]))
    assert "Creditnota" in text and "2026-C001" in text
    assert "Crediteert factuur" in text and "2026-0101" in text
    assert "-€ 362,04" in text or "€ -362,04" in text or "-362,04" in text


def test_hostile_text_renders_as_text() -> None:
    text = _text(to_pdf(SCENARIOS["hostile_text"]))
    assert "<b>Sessie</b> & \"quotes\"" in text
    assert "€ ë ï" in text
    assert "Robert'); DROP TABLE clients;-- <x>" in text


def test_many_lines_break_across_pages_and_all_appear() -> None:
    lines = [session(f"{n}.00", Vat.standard(21), 1 + n % 28, f"Sessie nummer {n:03d}") for n in range(1, 71)]
    data = to_pdf(invoice(lines, sponsor()))
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 2
    text = _text(data)
    assert all(f"Sessie nummer {n:03d}" in text for n in range(1, 71))
    assert text.count("Omschrijving") == len(reader.pages)  # the table header repeats on every page
    assert f"IBAN NL91ABNA0417164300 · 2/{len(reader.pages)}" in text  # page numbers in the footer
    assert "€ 3.006,85" in text  # 1 + 2 + ... + 70 = 2485.00, plus 21 %


def test_same_invoice_gives_the_same_bytes() -> None:
    item = invoice([session()], coachee())
    assert to_pdf(item) == to_pdf(item)


def test_missing_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvoiceError) as caught:
        to_pdf(invoice([session()]), fonts=Fonts(regular=tmp_path / "none.ttf"))
    assert caught.value.code == "font" and "fonts-dejavu-core" in str(caught.value)
