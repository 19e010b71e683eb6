"""The e-invoice: UBL 2.1 schema-valid, EN 16931 and NLCIUS rules met, amounts right."""

from __future__ import annotations

from decimal import Decimal

import pytest
from lxml import etree

from ecoach.core.invoicing import EN16931, NLCIUS, PROFILE, Line, Unit, Vat, compute, to_ubl
from tests.invoicing_support import D, coachee, invoice, scenarios, session, sponsor, written, xsd_errors
from tests.ubl_rules import COVERED, NS, check, fatal

SCENARIOS = scenarios()


def _xml(name: str) -> bytes:
    return to_ubl(SCENARIOS[name])


def _tree(xml: bytes) -> etree._Element:
    return etree.fromstring(xml)


def _text(root: etree._Element, path: str) -> str:
    return root.xpath(path, namespaces=NS)[0].text


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_is_valid_ubl_21(name: str) -> None:
    assert xsd_errors(_xml(name)) == []


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_scenario_meets_the_business_rules_without_a_warning(name: str) -> None:
    assert check(_xml(name)) == []


def test_sponsor_invoices_are_nlcius_and_private_dutch_coachees_en16931() -> None:
    # NLCIUS BR-NL-10 asks a Dutch supplier for a Dutch client's KvK number, which a private
    # coachee does not have: their invoice is the same document under the EN 16931 core.
    for name in ("sponsor_21_only", "sponsor_21_9_exempt", "eu_reverse_charge", "credit_note"):
        assert _tree(_xml(name)).findtext("cbc:CustomizationID", namespaces=NS) == NLCIUS
    for name in ("coachee_exempt_only", "coachee_21_and_9"):
        root = _tree(_xml(name))
        assert root.findtext("cbc:CustomizationID", namespaces=NS) == EN16931
        assert root.findtext("cbc:ProfileID", namespaces=NS) == PROFILE
        rules = {f.rule for f in check(_xml(name), nl_rules=True)}
        assert rules == {"SI-V20-INV-R000", "BR-NL-10"}, "every other NLCIUS rule holds for coachees too"


def test_the_rule_checker_catches_what_it_claims() -> None:
    """Break a good invoice in one place at a time: the matching rule fires."""
    good = _xml("sponsor_21_9_exempt")
    mutations = {
        "BR-CO-10": ("cac:LegalMonetaryTotal/cbc:LineExtensionAmount", "1.00"),
        "BR-CO-14": ("cac:TaxTotal/cbc:TaxAmount", "0.01"),
        "BR-CO-15": ("cac:LegalMonetaryTotal/cbc:TaxInclusiveAmount", "0.01"),
        "BR-CO-17": ("cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount", "99.99"),
        "BR-NL-1": ("cac:AccountingSupplierParty/cac:Party/cac:PartyLegalEntity/cbc:CompanyID", ""),
        "BR-NL-12": ("cac:PaymentMeans/cbc:PaymentMeansCode", "1"),
        "BR-DEC": ("cac:InvoiceLine/cbc:LineExtensionAmount", "95.001"),
        "BR-27": ("cac:InvoiceLine/cac:Price/cbc:PriceAmount", "-1"),
        "BR-E-10": ("cac:TaxTotal/cac:TaxSubtotal[cac:TaxCategory/cbc:ID='E']/cac:TaxCategory/"
                    "cbc:TaxExemptionReason", ""),
    }
    assert set(mutations) <= set(COVERED)
    for rule, (path, value) in mutations.items():
        root = _tree(good)
        root.xpath(path, namespaces=NS)[0].text = value
        found = {f.rule for f in fatal(check(etree.tostring(root)))}
        assert rule in found, (rule, found)


def test_vat_mix_breakdown_per_rate() -> None:
    root = _tree(_xml("sponsor_21_9_exempt"))
    subtotals = {(s.findtext("cac:TaxCategory/cbc:ID", namespaces=NS),
                  s.findtext("cac:TaxCategory/cbc:Percent", namespaces=NS)):
                 (s.findtext("cbc:TaxableAmount", namespaces=NS), s.findtext("cbc:TaxAmount", namespaces=NS))
                 for s in root.iterfind("cac:TaxTotal/cac:TaxSubtotal", NS)}
    # 95.00 + 60.00 (45 min at 80/h) at 21 %; 49.99 at 9 %; 120.00 exempt
    assert subtotals == {("S", "21"): ("155.00", "32.55"), ("S", "9"): ("49.99", "4.50"),
                         ("E", "0"): ("120.00", "0.00")}
    assert root.findtext("cac:LegalMonetaryTotal/cbc:PayableAmount", namespaces=NS) == "362.04"
    reason = _text(root, "cac:TaxTotal/cac:TaxSubtotal[cac:TaxCategory/cbc:ID='E']/cac:TaxCategory/"
                         "cbc:TaxExemptionReason")
    assert reason.startswith("Vrijgesteld van btw")


def test_rounding_vat_on_the_breakdown_not_per_line() -> None:
    # 3 x 0.07 at 21 %: per line 0.0147 -> 0.01 each, but VAT is 21 % of 0.21 = 0.0441 -> 0.04
    lines = [Line("Kort consult", D("1"), Unit.piece, D("0.07"), Vat.standard(21)) for _ in range(3)]
    totals = compute(invoice(lines))
    assert [b.tax for b in totals.breakdown] == [D("0.04")]
    assert [part.vat for part in totals.lines] == [D("0.02"), D("0.01"), D("0.01")]  # the split adds up

    totals = compute(SCENARIOS["rounding_cents"])
    standard = next(b for b in totals.breakdown if b.vat.rate == 21)
    assert standard.taxable == D("9.54")  # 0.21 + 7 min at 80/h = 9.3333 -> 9.33
    assert standard.tax == D("2.00")  # 9.54 x 21 % = 2.0034
    shares = [part.vat for part in totals.lines if part.line.vat.rate == 21]
    # exact shares 0.0147 (x3) and 1.9593 round to 1.99: the lost cent goes to the largest remainder
    assert shares == [D("0.02"), D("0.01"), D("0.01"), D("1.96")]


@pytest.mark.parametrize(("quantity", "price", "base", "net"), [
    ("1", "0.005", "1", "0.01"),  # half up
    ("1", "0.0049", "1", "0.00"),
    ("7", "80", "60", "9.33"),
    ("8", "80", "60", "10.67"),
    ("0.25", "95", "1", "23.75"),
    ("1.5", "33.333", "1", "50.00"),
    ("-1", "10.005", "1", "-10.01"),  # half away from zero for a negative line
])
def test_line_amounts_round_half_up_to_cents(quantity: str, price: str, base: str, net: str) -> None:
    lines = [session("100.00"), Line("x", D(quantity), Unit.minute, D(price), Vat.standard(21), base_quantity=D(base))]
    totals = compute(invoice(lines))
    assert totals.lines[1].net == D(net)
    assert check(to_ubl(invoice(lines), totals)) == []


def test_vat_half_cent_rounds_up() -> None:
    # 0.50 at 21 % = 0.105 -> 0.11; 0.50 at 9 % = 0.045 -> 0.05
    totals = compute(invoice([Line("a", D("1"), Unit.piece, D("0.50"), Vat.standard(21)),
                              Line("b", D("1"), Unit.piece, D("0.50"), Vat.standard(9))]))
    assert [b.tax for b in totals.breakdown] == [D("0.11"), D("0.05")]


def test_hostile_text_is_escaped_and_control_characters_are_dropped() -> None:
    xml = _xml("hostile_text")
    root = _tree(xml)  # well-formed: lxml would refuse otherwise
    name = root.findtext("cac:InvoiceLine/cac:Item/cbc:Name", namespaces=NS)
    assert "<b>Sessie</b> & \"quotes\" 'apos' ]]>" in name
    assert "€ ë ï" in name
    assert not any(ord(c) < 32 for c in name)
    assert b"\x00" not in xml and b"\x1b" not in xml
    description = root.findtext("cac:InvoiceLine/cac:Item/cbc:Description", namespaces=NS)
    assert "\n=cmd" in description  # the line break is kept in the long description
    buyer = root.findtext("cac:AccountingCustomerParty/cac:Party/cac:PartyLegalEntity/cbc:RegistrationName",
                          namespaces=NS)
    assert buyer == "Robert'); DROP TABLE clients;-- <x>"


def test_credit_note_references_the_invoice_and_mirrors_its_amounts() -> None:
    credit = _tree(_xml("credit_note"))
    original = _tree(_xml("sponsor_21_9_exempt"))
    assert etree.QName(credit).localname == "CreditNote"
    assert credit.findtext("cbc:CreditNoteTypeCode", namespaces=NS) == "381"
    assert credit.findtext("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID",
                           namespaces=NS) == "2026-0101"
    for path in ("cac:LegalMonetaryTotal/cbc:PayableAmount", "cac:TaxTotal/cbc:TaxAmount"):
        assert credit.findtext(path, namespaces=NS) == original.findtext(path, namespaces=NS)
    assert len(credit.findall("cac:CreditNoteLine", NS)) == 4
    assert credit.findtext("cac:PaymentTerms/cbc:Note", namespaces=NS)


def test_references_and_parties() -> None:
    root = _tree(_xml("sponsor_21_only"))
    assert root.findtext("cbc:BuyerReference", namespaces=NS) == "KP-4711"
    assert root.findtext("cac:OrderReference/cbc:ID", namespaces=NS) == "PO-2026-118"
    seller = root.find("cac:AccountingSupplierParty/cac:Party", NS)
    assert seller.find("cbc:EndpointID", NS).attrib == {"schemeID": "0106"}
    assert seller.findtext("cac:PartyTaxScheme/cbc:CompanyID", namespaces=NS) == "NL000099998B57"
    assert root.findtext("cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:ID", namespaces=NS) == \
        "NL91ABNA0417164300"
    private = _tree(to_ubl(invoice([session()], coachee(reference=None))))
    assert private.findtext("cbc:BuyerReference", namespaces=NS) == "C-0042"  # falls back to client number
    assert private.find("cac:AccountingCustomerParty/cac:Party/cbc:EndpointID", NS) is None


def test_quantities_and_units_are_written_as_given() -> None:
    root = _tree(to_ubl(invoice([written("45"), session()])))
    quantity = root.find("cac:InvoiceLine/cbc:InvoicedQuantity", NS)
    assert (quantity.text, quantity.get("unitCode")) == ("45", "MIN")
    base = root.find("cac:InvoiceLine/cac:Price/cbc:BaseQuantity", NS)
    assert (base.text, base.get("unitCode")) == ("60", "MIN")
    assert root.findtext("cac:InvoiceLine[2]/cbc:InvoicedQuantity", namespaces=NS) == "1"
    assert root.find("cac:InvoiceLine[2]/cac:Price/cbc:BaseQuantity", NS) is None


def test_big_invoice_stays_exact() -> None:
    lines = [session(f"{n}.{n % 100:02d}", Vat.standard(21 if n % 2 else 9)) for n in range(1, 120)]
    xml = to_ubl(invoice(lines, sponsor()))
    assert xsd_errors(xml) == [] and check(xml) == []
    assert compute(invoice(lines)).net == sum((D(f"{n}.{n % 100:02d}") for n in range(1, 120)), Decimal("0"))
