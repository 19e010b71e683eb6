"""The bookkeeping CSV: Excel-friendly, and its amounts are the UBL's to the cent."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from decimal import Decimal

import pytest
from lxml import etree

from ecoach.core.invoicing import CSV_COLUMNS, to_csv, to_ubl
from tests.invoicing_support import scenarios
from tests.ubl_rules import NS

SCENARIOS = scenarios()


def _rows(data: bytes, language: str = "nl") -> list[dict[str, str]]:
    assert data.startswith(b"\xef\xbb\xbf"), "UTF-8 with BOM, for Excel"
    text = data.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";" if language == "nl" else ","))


def _dec(text: str, language: str = "nl") -> Decimal:
    return Decimal(text.replace(",", ".") if language == "nl" else text)


@pytest.mark.parametrize("language", ["nl", "en"])
def test_csv_amounts_match_the_ubl(language: str) -> None:
    invoices = list(SCENARIOS.values())
    rows = _rows(to_csv(invoices, language), language)
    header = ("Factuurnummer", "Netto", "Btw", "Bruto", "Btw-tarief") if language == "nl" else \
        ("Invoice number", "Net", "VAT", "Gross", "VAT rate")
    number, net, vat, gross, rate = header
    by_invoice: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        by_invoice[row[number].lstrip("'")].append(row)
    assert len(rows) == sum(len(i.lines) for i in invoices)
    for item in invoices:
        root = etree.fromstring(to_ubl(item))
        sign = Decimal(item.sign)
        mine = by_invoice[item.number]
        lines = root.xpath("cac:InvoiceLine | cac:CreditNoteLine", namespaces=NS)
        assert [_dec(r[net], language) for r in mine] == [
            sign * Decimal(ln.findtext("cbc:LineExtensionAmount", namespaces=NS)) for ln in lines]
        total = root.find("cac:LegalMonetaryTotal", NS)
        assert sum(_dec(r[net], language) for r in mine) == sign * Decimal(
            total.findtext("cbc:TaxExclusiveAmount", namespaces=NS))
        assert sum(_dec(r[gross], language) for r in mine) == sign * Decimal(
            total.findtext("cbc:TaxInclusiveAmount", namespaces=NS))
        for sub in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", NS):
            percent = Decimal(sub.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS))
            category = sub.findtext("cac:TaxCategory/cbc:ID", namespaces=NS)
            same = [r for r in mine if _dec(r[rate], language) == percent
                    and (category == "S") == (percent > 0)]
            assert sum(_dec(r[vat], language) for r in same) == sign * Decimal(
                sub.findtext("cbc:TaxAmount", namespaces=NS)), (item.number, category, percent)


def test_dutch_csv_uses_semicolons_decimal_commas_and_translated_headers() -> None:
    data = to_csv([SCENARIOS["sponsor_21_9_exempt"]], "nl")
    text = data.decode("utf-8-sig")
    header, first = text.split("\r\n")[:2]
    assert header.split(";") == ["Factuurnummer", "Factuurdatum", "Document", "Klantnummer", "Klant",
                                 "Omschrijving", "Datum", "Aantal", "Eenheid", "Prijs", "Prijs per", "Netto",
                                 "Btw-soort", "Btw-tarief", "Btw", "Bruto"]
    assert first == ("2026-0101;2026-12-01;Factuur;S-0007;Zorggroep De Linde B.V.;Coachsessie (video);"
                     "2026-11-03;1;stuk;95;1;95,00;standaard;21;19,95;114,95")
    assert len(CSV_COLUMNS) == len(header.split(";"))


def test_english_csv_uses_commas_and_points() -> None:
    rows = _rows(to_csv([SCENARIOS["sponsor_21_9_exempt"]], "en"), "en")
    assert rows[2]["Description"] == "Schriftelijke coaching"
    assert (rows[2]["Quantity"], rows[2]["Unit"], rows[2]["Price"], rows[2]["Price per"], rows[2]["Net"]) == \
        ("45", "minute", "80", "60", "60.00")
    assert rows[3]["VAT category"] == "exempt" and rows[3]["VAT"] == "0.00"


def test_credit_note_rows_are_negative() -> None:
    rows = _rows(to_csv([SCENARIOS["credit_note"]], "nl"))
    assert {r["Document"] for r in rows} == {"Creditnota"}
    assert rows[0]["Aantal"] == "-1" and rows[0]["Netto"] == "-95,00" and rows[0]["Bruto"] == "-114,95"


def test_hostile_text_cannot_become_a_formula_and_unicode_survives() -> None:
    rows = _rows(to_csv([SCENARIOS["hostile_text"]], "nl"))
    row = rows[0]
    assert row["Klantnummer"] == "'=1+1"
    assert row["Klant"] == "Robert'); DROP TABLE clients;-- <x>"
    assert "€ ë ï =cmd" in row["Omschrijving"]  # one line, the line break became a space
    assert "\n" not in row["Omschrijving"] and "\x1b" not in row["Omschrijving"]
    assert _rows(to_csv([SCENARIOS["negative_line"]], "nl"))[1]["Aantal"] == "-1"  # numbers untouched
