"""The e-invoice: UBL 2.1 in the Dutch SI-UBL 2.0 / NLCIUS profile of EN 16931.

Written with lxml; elements in the order the UBL 2.1 schema demands. The profile:

- **NLCIUS** (``urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0``) for every
  invoice it can hold. NLCIUS rule BR-NL-10 asks a Dutch supplier for the KvK (or OIN)
  number of every *Dutch* client, which a private coachee does not have.
- **EN 16931** itself (``urn:cen.eu:en16931:2017``) for a private client living in the
  Netherlands: the same document under the European core, which has no BR-NL rules. Its
  amounts, parties and codes are built exactly alike.

The business process (BT-23) is Peppol BIS Billing 3.0's ``urn:fdc:peppol.eu:2017:poacc:billing:01:1.0``.
What NLCIUS advises against (BIC with SEPA, exemption reason *codes*, address line 3,
the issue date of a credited invoice, empty elements) is left out.
"""

from __future__ import annotations

from decimal import Decimal

from lxml import etree

from ecoach.core.invoicing.amounts import Totals, compute
from ecoach.core.invoicing.labels import Words
from ecoach.core.invoicing.model import CURRENCY, Address, Client, Invoice, Line, Seller, Vat

NLCIUS = "urn:cen.eu:en16931:2017#compliant#urn:fdc:nen.nl:nlcius:v1.0"
EN16931 = "urn:cen.eu:en16931:2017"
PROFILE = "urn:fdc:peppol.eu:2017:poacc:billing:01:1.0"
NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
KVK_SCHEME = "0106"  # ISO 6523 ICD of the Dutch chamber of commerce register
SEPA_CREDIT_TRANSFER = "58"  # UNCL4461


def customization_id(invoice: Invoice) -> str:
    """NLCIUS, unless NLCIUS cannot hold the invoice (see the module's docstring)."""
    client = invoice.client
    dutch_to_dutch = invoice.seller.address.country == "NL" and client.address.country == "NL"
    return EN16931 if dutch_to_dutch and not client.kvk else NLCIUS


def to_ubl(invoice: Invoice, totals: Totals | None = None) -> bytes:
    """The invoice (or credit note) as UTF-8 UBL 2.1 XML."""
    totals = totals or compute(invoice)
    credit = invoice.is_credit_note
    root = etree.Element(f"{{{NS_CREDIT_NOTE if credit else NS_INVOICE}}}{'CreditNote' if credit else 'Invoice'}",
                         nsmap={None: NS_CREDIT_NOTE if credit else NS_INVOICE, "cac": CAC, "cbc": CBC})
    _header(root, invoice)
    _party(_sub(root, "cac:AccountingSupplierParty"), invoice.seller)
    _client(_sub(root, "cac:AccountingCustomerParty"), invoice.client)
    _payment(root, invoice)
    _tax_total(root, totals)
    _monetary_total(root, totals)
    for number, amounts in enumerate(totals.lines, start=1):
        _line(root, number, amounts.line, amounts.net, credit)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _sub(parent: etree._Element, tag: str, text: str | None = None, **attrs: str) -> etree._Element:
    prefix, name = tag.split(":")
    element = etree.SubElement(parent, f"{{{CAC if prefix == 'cac' else CBC}}}{name}", attrs)
    if text is not None:
        element.text = text
    return element


def amount(value: Decimal) -> str:
    return f"{value:.2f}"


def number(value: Decimal) -> str:
    """A quantity, price or percentage as written: no exponent, no trailing zeros."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text


def _money(parent: etree._Element, tag: str, value: Decimal) -> None:
    _sub(parent, tag, amount(value), currencyID=CURRENCY)


def _header(root: etree._Element, invoice: Invoice) -> None:
    _sub(root, "cbc:CustomizationID", customization_id(invoice))
    _sub(root, "cbc:ProfileID", PROFILE)
    _sub(root, "cbc:ID", invoice.number)
    _sub(root, "cbc:IssueDate", invoice.issue_date.isoformat())
    if invoice.is_credit_note:
        _sub(root, "cbc:CreditNoteTypeCode", invoice.kind.value)
    else:
        if invoice.due_date is not None:
            _sub(root, "cbc:DueDate", invoice.due_date.isoformat())
        _sub(root, "cbc:InvoiceTypeCode", invoice.kind.value)
    if invoice.note:
        _sub(root, "cbc:Note", invoice.note)
    _sub(root, "cbc:DocumentCurrencyCode", CURRENCY)
    _sub(root, "cbc:BuyerReference", invoice.client.buyer_reference)
    if invoice.period_start and invoice.period_end:
        period = _sub(root, "cac:InvoicePeriod")
        _sub(period, "cbc:StartDate", invoice.period_start.isoformat())
        _sub(period, "cbc:EndDate", invoice.period_end.isoformat())
    if invoice.client.order_reference:
        _sub(_sub(root, "cac:OrderReference"), "cbc:ID", invoice.client.order_reference)
    if invoice.credited is not None:
        reference = _sub(_sub(root, "cac:BillingReference"), "cac:InvoiceDocumentReference")
        _sub(reference, "cbc:ID", invoice.credited.number)


def _address(parent: etree._Element, address: Address) -> None:
    postal = _sub(parent, "cac:PostalAddress")
    _sub(postal, "cbc:StreetName", address.street)
    if address.extra:
        _sub(postal, "cbc:AdditionalStreetName", address.extra)
    _sub(postal, "cbc:CityName", address.city)
    _sub(postal, "cbc:PostalZone", address.postal_code)
    _sub(_sub(postal, "cac:Country"), "cbc:IdentificationCode", address.country)


def _tax_scheme(parent: etree._Element, vat_number: str) -> None:
    scheme = _sub(parent, "cac:PartyTaxScheme")
    _sub(scheme, "cbc:CompanyID", vat_number)
    _sub(_sub(scheme, "cac:TaxScheme"), "cbc:ID", "VAT")


def _party(parent: etree._Element, seller: Seller) -> None:
    party = _sub(parent, "cac:Party")
    _sub(party, "cbc:EndpointID", seller.kvk, schemeID=KVK_SCHEME)
    if seller.trade_name:
        _sub(_sub(party, "cac:PartyName"), "cbc:Name", seller.trade_name)
    _address(party, seller.address)
    _tax_scheme(party, seller.vat_number)
    legal = _sub(party, "cac:PartyLegalEntity")
    _sub(legal, "cbc:RegistrationName", seller.name)
    _sub(legal, "cbc:CompanyID", seller.kvk, schemeID=KVK_SCHEME)
    contact = _sub(party, "cac:Contact")
    if seller.phone:
        _sub(contact, "cbc:Telephone", seller.phone)
    _sub(contact, "cbc:ElectronicMail", seller.email)


def _client(parent: etree._Element, client: Client) -> None:
    party = _sub(parent, "cac:Party")
    if client.kvk:
        _sub(party, "cbc:EndpointID", client.kvk, schemeID=KVK_SCHEME)
    _address(party, client.address)
    if client.vat_number:
        _tax_scheme(party, client.vat_number)
    legal = _sub(party, "cac:PartyLegalEntity")
    _sub(legal, "cbc:RegistrationName", client.name)
    if client.kvk:
        _sub(legal, "cbc:CompanyID", client.kvk, schemeID=KVK_SCHEME)
    if client.contact or client.email:
        contact = _sub(party, "cac:Contact")
        if client.contact:
            _sub(contact, "cbc:Name", client.contact)
        if client.email:
            _sub(contact, "cbc:ElectronicMail", client.email)


def _payment(root: etree._Element, invoice: Invoice) -> None:
    means = _sub(root, "cac:PaymentMeans")
    _sub(means, "cbc:PaymentMeansCode", SEPA_CREDIT_TRANSFER)
    if invoice.is_credit_note and invoice.due_date is not None:
        _sub(means, "cbc:PaymentDueDate", invoice.due_date.isoformat())
    _sub(means, "cbc:PaymentID", invoice.number)
    _sub(_sub(means, "cac:PayeeFinancialAccount"), "cbc:ID", invoice.seller.iban)
    if invoice.is_credit_note:
        # BR-CO-25: a positive amount due needs a due date or payment terms.
        terms = Words(invoice.language).gettext("The amount of this credit note is set off or paid back.")
        _sub(_sub(root, "cac:PaymentTerms"), "cbc:Note", terms)


def _category(parent: etree._Element, tag: str, vat: Vat, *, with_reason: bool) -> None:
    category = _sub(parent, tag)
    _sub(category, "cbc:ID", vat.category.value)
    _sub(category, "cbc:Percent", number(vat.rate))
    if with_reason and vat.exemption_reason:
        _sub(category, "cbc:TaxExemptionReason", vat.exemption_reason)
    _sub(_sub(category, "cac:TaxScheme"), "cbc:ID", "VAT")


def _tax_total(root: etree._Element, totals: Totals) -> None:
    total = _sub(root, "cac:TaxTotal")
    _money(total, "cbc:TaxAmount", totals.vat)
    for part in totals.breakdown:
        subtotal = _sub(total, "cac:TaxSubtotal")
        _money(subtotal, "cbc:TaxableAmount", part.taxable)
        _money(subtotal, "cbc:TaxAmount", part.tax)
        _category(subtotal, "cac:TaxCategory", part.vat, with_reason=True)


def _monetary_total(root: etree._Element, totals: Totals) -> None:
    total = _sub(root, "cac:LegalMonetaryTotal")
    _money(total, "cbc:LineExtensionAmount", totals.net)
    _money(total, "cbc:TaxExclusiveAmount", totals.net)
    _money(total, "cbc:TaxInclusiveAmount", totals.gross)
    _money(total, "cbc:PayableAmount", totals.payable)


def _line(root: etree._Element, index: int, line: Line, net: Decimal, credit: bool) -> None:
    element = _sub(root, "cac:CreditNoteLine" if credit else "cac:InvoiceLine")
    _sub(element, "cbc:ID", str(index))
    _sub(element, "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity", number(line.quantity),
         unitCode=line.unit.value)
    _money(element, "cbc:LineExtensionAmount", net)
    if line.start is not None and line.end is not None:
        period = _sub(element, "cac:InvoicePeriod")
        _sub(period, "cbc:StartDate", line.start.isoformat())
        _sub(period, "cbc:EndDate", line.end.isoformat())
    item = _sub(element, "cac:Item")
    if "\n" in line.description:
        _sub(item, "cbc:Description", line.description)
    _sub(item, "cbc:Name", " ".join(line.description.split()))
    _category(item, "cac:ClassifiedTaxCategory", line.vat, with_reason=False)
    price = _sub(element, "cac:Price")
    _sub(price, "cbc:PriceAmount", number(line.unit_price), currencyID=CURRENCY)
    if line.base_quantity != 1:
        _sub(price, "cbc:BaseQuantity", number(line.base_quantity), unitCode=line.unit.value)
