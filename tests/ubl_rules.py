"""EN 16931 and NLCIUS (SI-UBL 2.0) business rules that can be checked offline.

No registry package ships the official Schematron/XSLT artefacts (CEN's EN16931-UBL
validation, SimplerInvoicing's si-ubl-2.0), so the tests check the rules here, written
from the published rule texts as XPath over the UBL itself — independent of the code
that made it (nothing is imported from ``ecoach``). Arithmetic in Decimal.

Covered (ids as published; ``COVERED`` lists them for the report):
- EN 16931 core: BR-01..16, BR-21..27, BR-29, BR-30, BR-45..49, BR-55, BR-61..63
- calculation: BR-CO-4, BR-CO-9, BR-CO-10, BR-CO-13..18, BR-CO-25, BR-CO-26, BR-DEC-*
- VAT categories: BR-S-01/02/05/08/09/10, BR-Z-01/02/05/08/09/10, BR-E-01/02/05/08/09/10,
  BR-AE-01/02/05/08/09/10
- code lists: BR-CL-01, -04, -10, -14, -16, -17, -23 (for the codes ecoach uses)
- NLCIUS: SI-V20-INV-R000, BR-NL-1..4, 7..13 (fatal), BR-NL-19..35 (warnings), SI-UBL-2
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from lxml import etree

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
    "inv": "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2",
    "cn": "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2",
}
NLCIUS_ID = "urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0"
COVERED = (
    [f"BR-{n:02d}" for n in (*range(1, 17), *range(21, 28), 29, 30, 45, 46, 47, 48, 49, 55, 61, 62, 63)]
    + ["BR-CO-4", "BR-CO-9", "BR-CO-10", *[f"BR-CO-{n}" for n in range(13, 19)], "BR-CO-25", "BR-CO-26",
       "BR-DEC"]
    + [f"BR-{c}-{n:02d}" for c in ("S", "Z", "E", "AE") for n in (1, 2, 5, 8, 9, 10)]
    + ["BR-CL-01", "BR-CL-04", "BR-CL-10", "BR-CL-14", "BR-CL-16", "BR-CL-17", "BR-CL-23"]
    + ["SI-V20-INV-R000", *[f"BR-NL-{n}" for n in (1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13)],
       *[f"BR-NL-{n}" for n in range(19, 36)], "SI-UBL-2"]
)
# Code lists, as far as an ecoach invoice can use them (the full lists are longer).
TYPE_CODES = {"380", "381", "384", "389", "326", "383", "386", "751"}
UNIT_CODES = {"C62", "HUR", "MIN", "MON", "DAY", "WEE", "ANN", "H87", "EA"}
VAT_CATEGORIES = {"S", "Z", "E", "AE", "K", "G", "O", "L", "M"}
PAYMENT_MEANS = {"1", "10", "20", "30", "31", "42", "48", "49", "57", "58", "59", "97", "ZZZ"}
ICD = {"0002", "0007", "0009", "0060", "0088", "0096", "0106", "0130", "0135", "0190", "0192", "0208"}
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Finding:
    rule: str
    flag: str  # "fatal" or "warning"
    detail: str = ""


class _Doc:
    def __init__(self, xml: bytes) -> None:
        self.root = etree.fromstring(xml)
        self.credit = etree.QName(self.root).localname == "CreditNote"
        self.line_tag = "cac:CreditNoteLine" if self.credit else "cac:InvoiceLine"
        self.qty_tag = "cbc:CreditedQuantity" if self.credit else "cbc:InvoicedQuantity"
        self.findings: list[Finding] = []

    def all(self, path: str, node: etree._Element | None = None) -> list:
        return (node if node is not None else self.root).xpath(path, namespaces=NS)

    def text(self, path: str, node: etree._Element | None = None) -> str | None:
        found = self.all(path, node)
        return found[0].text.strip() if found and found[0].text is not None else None

    def dec(self, path: str, node: etree._Element | None = None) -> Decimal | None:
        value = self.text(path, node)
        return Decimal(value) if value is not None else None

    def need(self, rule: str, ok: object, detail: str = "", flag: str = "fatal") -> None:
        if not ok:
            self.findings.append(Finding(rule, flag, detail))

    @property
    def lines(self) -> list:
        return self.all(self.line_tag)

    @property
    def subtotals(self) -> list:
        return self.all("cac:TaxTotal/cac:TaxSubtotal")


def check(xml: bytes, *, nl_rules: bool | None = None) -> list[Finding]:
    """Every finding; ``nl_rules`` forces the NLCIUS rules on (or off) whatever the
    CustomizationID says (by default they apply to NLCIUS documents, as in the original)."""
    doc = _Doc(xml)
    _core(doc)
    _lines(doc)
    _calculation(doc)
    for code in ("S", "Z", "E", "AE"):
        _category(doc, code)
    _code_lists(doc)
    if nl_rules if nl_rules is not None else doc.text("cbc:CustomizationID") == NLCIUS_ID:
        _nlcius(doc)
    return doc.findings


def fatal(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.flag == "fatal"]


def _core(d: _Doc) -> None:
    seller = "cac:AccountingSupplierParty/cac:Party"
    buyer = "cac:AccountingCustomerParty/cac:Party"
    d.need("BR-01", d.text("cbc:CustomizationID"))
    d.need("BR-02", d.text("cbc:ID"))
    d.need("BR-03", d.text("cbc:IssueDate"))
    d.need("BR-04", d.text("cbc:CreditNoteTypeCode" if d.credit else "cbc:InvoiceTypeCode"))
    d.need("BR-05", d.text("cbc:DocumentCurrencyCode"))
    d.need("BR-06", d.text(f"{seller}/cac:PartyLegalEntity/cbc:RegistrationName"))
    d.need("BR-07", d.text(f"{buyer}/cac:PartyLegalEntity/cbc:RegistrationName"))
    d.need("BR-08", d.all(f"{seller}/cac:PostalAddress"))
    d.need("BR-09", d.text(f"{seller}/cac:PostalAddress/cac:Country/cbc:IdentificationCode"))
    d.need("BR-10", d.all(f"{buyer}/cac:PostalAddress"))
    d.need("BR-11", d.text(f"{buyer}/cac:PostalAddress/cac:Country/cbc:IdentificationCode"))
    for n, name in ((12, "LineExtensionAmount"), (13, "TaxExclusiveAmount"), (14, "TaxInclusiveAmount"),
                    (15, "PayableAmount")):
        d.need(f"BR-{n}", d.text(f"cac:LegalMonetaryTotal/cbc:{name}"))
    d.need("BR-16", d.lines)
    for period in d.all("cac:InvoicePeriod") + d.all(f"{d.line_tag}/cac:InvoicePeriod"):
        start, end = d.text("cbc:StartDate", period), d.text("cbc:EndDate", period)
        rule = "BR-29" if period.getparent() is d.root else "BR-30"
        d.need(rule, not (start and end) or end >= start, f"{start}..{end}")
    for sub in d.subtotals:
        d.need("BR-45", d.text("cbc:TaxableAmount", sub))
        d.need("BR-46", d.text("cbc:TaxAmount", sub))
        d.need("BR-47", d.text("cac:TaxCategory/cbc:ID", sub))
        d.need("BR-48", d.text("cac:TaxCategory/cbc:Percent", sub) or d.text("cac:TaxCategory/cbc:ID", sub) == "O")
    for means in d.all("cac:PaymentMeans"):
        code = d.text("cbc:PaymentMeansCode", means)
        d.need("BR-49", code)
        d.need("BR-61", code not in ("30", "58") or d.text("cac:PayeeFinancialAccount/cbc:ID", means))
    for ref in d.all("cac:BillingReference"):
        d.need("BR-55", d.text("cac:InvoiceDocumentReference/cbc:ID", ref))
    for endpoint, rule in ((f"{seller}/cbc:EndpointID", "BR-62"), (f"{buyer}/cbc:EndpointID", "BR-63")):
        for element in d.all(endpoint):
            d.need(rule, element.get("schemeID"))


def _lines(d: _Doc) -> None:
    for line in d.lines:
        d.need("BR-21", d.text("cbc:ID", line))
        d.need("BR-22", d.text(d.qty_tag, line))
        d.need("BR-23", d.all(d.qty_tag, line) and d.all(d.qty_tag, line)[0].get("unitCode"))
        d.need("BR-24", d.text("cbc:LineExtensionAmount", line))
        d.need("BR-25", d.text("cac:Item/cbc:Name", line))
        price = d.dec("cac:Price/cbc:PriceAmount", line)
        d.need("BR-26", price is not None)
        d.need("BR-27", price is None or price >= 0)
        d.need("BR-CO-4", d.text("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", line))


def _places_ok(value: str | None) -> bool:
    return value is None or re.fullmatch(r"-?[0-9]+(\.[0-9]{1,2})?", value) is not None


def _calculation(d: _Doc) -> None:
    total = "cac:LegalMonetaryTotal"
    line_sum = sum((Decimal(d.text("cbc:LineExtensionAmount", ln)) for ln in d.lines), Decimal("0"))
    net = d.dec(f"{total}/cbc:LineExtensionAmount")
    allowances = d.dec(f"{total}/cbc:AllowanceTotalAmount") or Decimal("0")
    charges = d.dec(f"{total}/cbc:ChargeTotalAmount") or Decimal("0")
    exclusive = d.dec(f"{total}/cbc:TaxExclusiveAmount")
    inclusive = d.dec(f"{total}/cbc:TaxInclusiveAmount")
    payable = d.dec(f"{total}/cbc:PayableAmount")
    prepaid = d.dec(f"{total}/cbc:PrepaidAmount") or Decimal("0")
    rounding = d.dec(f"{total}/cbc:PayableRoundingAmount") or Decimal("0")
    tax = d.dec("cac:TaxTotal/cbc:TaxAmount") or Decimal("0")
    d.need("BR-CO-10", net == line_sum, f"{net} != {line_sum}")
    d.need("BR-CO-13", exclusive == net - allowances + charges)
    d.need("BR-CO-14", tax == sum((Decimal(d.text("cbc:TaxAmount", s)) for s in d.subtotals), Decimal("0")))
    d.need("BR-CO-15", inclusive == (exclusive or 0) + tax, f"{inclusive} != {exclusive} + {tax}")
    d.need("BR-CO-16", payable == (inclusive or 0) - prepaid + rounding)
    for sub in d.subtotals:
        taxable, amount = d.dec("cbc:TaxableAmount", sub), d.dec("cbc:TaxAmount", sub)
        rate = d.dec("cac:TaxCategory/cbc:Percent", sub) or Decimal("0")
        expected = (taxable * rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
        d.need("BR-CO-17", amount == expected, f"{amount} != {taxable} x {rate}%")
    d.need("BR-CO-18", d.subtotals)
    due = d.text("cbc:DueDate") or d.text("cac:PaymentMeans/cbc:PaymentDueDate")
    d.need("BR-CO-25", payable is None or payable <= 0 or due or d.text("cac:PaymentTerms/cbc:Note"))
    seller = "cac:AccountingSupplierParty/cac:Party"
    d.need("BR-CO-26", d.text(f"{seller}/cac:PartyIdentification/cbc:ID")
           or d.text(f"{seller}/cac:PartyLegalEntity/cbc:CompanyID")
           or d.text(f"{seller}/cac:PartyTaxScheme/cbc:CompanyID"))
    for vat_id in d.all("//cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']/cbc:CompanyID"):
        d.need("BR-CO-9", re.match(r"[A-Z]{2}", vat_id.text or ""), vat_id.text or "")
    amounts = d.all(f"{total}/*") + d.all("cac:TaxTotal/cbc:TaxAmount") + d.all(
        "cac:TaxTotal/cac:TaxSubtotal/cbc:TaxableAmount | cac:TaxTotal/cac:TaxSubtotal/cbc:TaxAmount") + d.all(
        f"{d.line_tag}/cbc:LineExtensionAmount")
    for element in amounts:
        d.need("BR-DEC", _places_ok(element.text), f"{etree.QName(element).localname}={element.text}")


def _category(d: _Doc, code: str) -> None:
    lines = [ln for ln in d.lines if d.text("cac:Item/cac:ClassifiedTaxCategory/cbc:ID", ln) == code]
    subs = [s for s in d.subtotals if d.text("cac:TaxCategory/cbc:ID", s) == code]
    if not lines and not subs:
        return
    seller_vat = d.text("cac:AccountingSupplierParty/cac:Party/cac:PartyTaxScheme[cac:TaxScheme/cbc:ID='VAT']"
                        "/cbc:CompanyID")
    d.need(f"BR-{code}-01", subs if code == "S" else len(subs) == 1, f"{len(subs)} breakdowns")
    d.need(f"BR-{code}-02", seller_vat)
    if code == "AE":
        d.need("BR-AE-02", d.text("cac:AccountingCustomerParty/cac:Party/cac:PartyTaxScheme/cbc:CompanyID"),
               "buyer VAT id")
    for line in lines:
        rate = d.dec("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", line)
        d.need(f"BR-{code}-05", rate is not None and (rate > 0 if code == "S" else rate == 0), str(rate))
    for sub in subs:
        rate = d.dec("cac:TaxCategory/cbc:Percent", sub) or Decimal("0")
        same = [ln for ln in lines
                if d.dec("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent", ln) == rate or code != "S"]
        expected = sum((Decimal(d.text("cbc:LineExtensionAmount", ln)) for ln in same), Decimal("0"))
        d.need(f"BR-{code}-08", d.dec("cbc:TaxableAmount", sub) == expected)
        if code == "S":
            taxable = d.dec("cbc:TaxableAmount", sub)
            d.need("BR-S-09", d.dec("cbc:TaxAmount", sub) == (taxable * rate / 100).quantize(CENT, ROUND_HALF_UP))
        else:
            d.need(f"BR-{code}-09", d.dec("cbc:TaxAmount", sub) == 0)
        reason = d.text("cac:TaxCategory/cbc:TaxExemptionReason", sub) or d.text(
            "cac:TaxCategory/cbc:TaxExemptionReasonCode", sub)
        d.need(f"BR-{code}-10", reason if code in ("E", "AE") else not reason)


def _code_lists(d: _Doc) -> None:
    d.need("BR-CL-01", d.text("cbc:CreditNoteTypeCode" if d.credit else "cbc:InvoiceTypeCode") in TYPE_CODES)
    for element in d.all("//*[@currencyID]") + d.all("cbc:DocumentCurrencyCode"):
        d.need("BR-CL-04", (element.get("currencyID") or element.text) == "EUR")
    for element in d.all("//*[@schemeID]"):
        d.need("BR-CL-10", element.get("schemeID") in ICD, element.get("schemeID") or "")
    for element in d.all("//cac:Country/cbc:IdentificationCode"):
        d.need("BR-CL-14", re.fullmatch("[A-Z]{2}", element.text or ""))
    for element in d.all("cac:PaymentMeans/cbc:PaymentMeansCode"):
        d.need("BR-CL-16", element.text in PAYMENT_MEANS)
    for element in d.all("//cac:TaxCategory/cbc:ID | //cac:ClassifiedTaxCategory/cbc:ID"):
        d.need("BR-CL-17", element.text in VAT_CATEGORIES)
    for element in d.all(f"{d.line_tag}/{d.qty_tag} | //cbc:BaseQuantity"):
        d.need("BR-CL-23", element.get("unitCode") in UNIT_CODES)


def _address_complete(d: _Doc, address: etree._Element) -> bool:
    return all(d.text(f"cbc:{name}", address) for name in ("StreetName", "CityName", "PostalZone"))


def _legal_scheme_ok(d: _Doc, party: str) -> bool:
    ids = d.all(f"{party}/cac:PartyLegalEntity/cbc:CompanyID")
    return any(e.get("schemeID") in ("0106", "0190") and (e.text or "").strip() for e in ids)


def _nlcius(d: _Doc) -> None:
    d.need("SI-V20-INV-R000", (d.text("cbc:CustomizationID") or "").startswith(NLCIUS_ID))
    seller = "cac:AccountingSupplierParty/cac:Party"
    buyer = "cac:AccountingCustomerParty/cac:Party"
    if d.text(f"{seller}/cac:PostalAddress/cac:Country/cbc:IdentificationCode") != "NL":
        return  # the BR-NL rules below hold for suppliers in the Netherlands
    d.need("BR-NL-1", _legal_scheme_ok(d, seller))
    d.need("BR-NL-2", d.text("cbc:BuyerReference") or d.text("cac:OrderReference/cbc:ID"))
    d.need("BR-NL-3", _address_complete(d, d.all(f"{seller}/cac:PostalAddress")[0]))
    buyer_nl = d.text(f"{buyer}/cac:PostalAddress/cac:Country/cbc:IdentificationCode") == "NL"
    d.need("BR-NL-4", not buyer_nl or _address_complete(d, d.all(f"{buyer}/cac:PostalAddress")[0]))
    code = d.text("cbc:CreditNoteTypeCode" if d.credit else "cbc:InvoiceTypeCode")
    d.need("BR-NL-7", code in ("380", "381", "384", "389"))
    d.need("BR-NL-8", (code == "381") == d.credit)
    d.need("BR-NL-9", code != "384" or d.text("cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"))
    d.need("BR-NL-10", not buyer_nl or _legal_scheme_ok(d, buyer))
    payable = d.dec("cac:LegalMonetaryTotal/cbc:PayableAmount") or Decimal("0")
    d.need("BR-NL-11", payable <= 0 or d.all("cac:PaymentMeans"))
    for means in d.all("cac:PaymentMeans/cbc:PaymentMeansCode"):
        d.need("BR-NL-12", means.text in ("30", "48", "49", "57", "58", "59"))
    d.need("BR-NL-13", not d.all(f"{d.line_tag}/cac:OrderLineReference/cbc:LineID") or d.text(
        "cac:OrderReference/cbc:ID"))
    _nl_warnings(d, seller, buyer)


def _nl_warnings(d: _Doc, seller: str, buyer: str) -> None:
    not_recommended = {
        "BR-NL-19": "cbc:TaxCurrencyCode", "BR-NL-20": "cbc:TaxPointDate",
        "BR-NL-21": "cac:InvoicePeriod/cbc:DescriptionCode",
        "BR-NL-24": "cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate",
        "BR-NL-26": f"{seller}/cac:PartyLegalEntity/cbc:CompanyLegalForm",
        "BR-NL-27": f"{seller}/cac:PostalAddress/cac:AddressLine | {buyer}/cac:PostalAddress/cac:AddressLine",
        "BR-NL-28": "//cbc:CountrySubentity", "BR-NL-29": "cac:PaymentMeans/cbc:PaymentMeansCode[@name]",
        "BR-NL-30": "cac:PaymentMeans/cac:PayeeFinancialAccount/cbc:Name",
        "BR-NL-31": "cac:PaymentMeans[cbc:PaymentMeansCode='58' or cbc:PaymentMeansCode='59']"
                    "/cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID",
        "BR-NL-32": "//cac:AllowanceCharge[cbc:ChargeIndicator='false']/cbc:AllowanceChargeReasonCode",
        "BR-NL-34": "//cac:AllowanceCharge[cbc:ChargeIndicator='true']/cbc:AllowanceChargeReasonCode",
        "BR-NL-35": "cac:TaxTotal/cac:TaxSubtotal/cac:TaxCategory/cbc:TaxExemptionReasonCode",
    }
    for rule, path in not_recommended.items():
        d.need(rule, not d.all(path), path, flag="warning")
    for scheme in d.all(f"{seller}/cac:PartyTaxScheme[cbc:CompanyID]"):
        d.need("BR-NL-25", d.text("cac:TaxScheme/cbc:ID", scheme) == "VAT", flag="warning")
    currency = d.text("cbc:DocumentCurrencyCode")
    for element in d.all("cac:TaxTotal/cbc:TaxAmount"):
        d.need("BR-NL-33", element.get("currencyID") == currency, flag="warning")
    # SI-UBL-2: no empty elements
    for element in d.root.iter():
        if len(element) == 0 and not (element.text or "").strip():
            d.need("SI-UBL-2", False, etree.QName(element).localname, flag="warning")
