"""What an invoice is made of: the practice, the client, the lines, their VAT.

Typed input for every output (UBL, CSV, PDF). The constructors check what they can
alone (a KvK number has 8 digits, an IBAN its checksum, an exempt line its reason) and
raise :class:`InvoiceError` with a translatable message; rules that need the whole
invoice are in :func:`ecoach.core.invoicing.amounts.check_invoice`.

Amounts are :class:`decimal.Decimal`; the currency is the euro. Text from outside
(descriptions, names) is cleaned of characters XML 1.0 and PDF cannot carry.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ecoach.core.invoicing.errors import N_, InvoiceError
from ecoach.core.invoicing.fields import clean_text, to_decimal
from ecoach.core.invoicing.fields import optional as _optional
from ecoach.core.invoicing.fields import required as _required
from ecoach.core.invoicing.parties import Address, Client, Seller

__all__ = ["CURRENCY", "NL_RATES", "Address", "Client", "CreditedInvoice", "DocumentKind", "Invoice", "Line",
           "Seller", "Unit", "Vat", "VatCategory", "clean_text", "to_decimal"]

CURRENCY = "EUR"
# Dutch VAT rates for a standard-rated line (Wet OB 1968: general 21 %, reduced 9 %).
NL_RATES = (Decimal("21"), Decimal("9"))


class VatCategory(str, enum.Enum):
    """UNCL5305 codes used by a Dutch coaching practice."""

    standard = "S"  # 21 % or 9 %
    zero = "Z"  # 0 % (zero-rated supply)
    exempt = "E"  # "vrijgesteld": e.g. art. 11 Wet OB (care, CRKBO education) or the KOR
    reverse_charge = "AE"  # "btw verlegd": a business client in another EU country


class Unit(str, enum.Enum):
    """UN/ECE Recommendation 20 unit codes (the EN 16931 code list for BT-130)."""

    piece = "C62"  # "one": a session, a bundle, a subscription
    hour = "HUR"
    minute = "MIN"
    month = "MON"


class DocumentKind(str, enum.Enum):
    invoice = "380"  # UNCL1001 commercial invoice
    credit_note = "381"  # UNCL1001 credit note


@dataclass(frozen=True)
class Vat:
    """The VAT of a line: category, rate in percent, and for exempt or reverse-charged
    lines the reason printed on the invoice (EN 16931 BT-120)."""

    category: VatCategory
    rate: Decimal = Decimal("0")
    exemption_reason: str | None = None

    def __post_init__(self) -> None:
        rate = to_decimal(self.rate, N_("VAT rate"))
        object.__setattr__(self, "rate", rate)
        object.__setattr__(self, "exemption_reason", _optional(self.exemption_reason))
        if self.category is VatCategory.standard:
            if rate not in NL_RATES:
                raise InvoiceError("vat_rate", N_("A standard VAT rate is 21 or 9 percent, not %(rate)s."),
                                   rate=str(rate))
            if self.exemption_reason:
                raise InvoiceError("vat_reason", N_("A standard-rated line has no exemption reason."))
            return
        if rate != 0:
            raise InvoiceError("vat_rate", N_("Exempt, zero-rated and reverse-charged lines have 0 percent VAT."))
        if self.category in (VatCategory.exempt, VatCategory.reverse_charge) and not self.exemption_reason:
            raise InvoiceError("vat_reason", N_("An exempt or reverse-charged line needs the reason for it "
                                                "(for example the article of the VAT act)."))

    @classmethod
    def standard(cls, rate: int | str | Decimal = 21) -> Vat:
        return cls(VatCategory.standard, Decimal(str(rate)))

    @classmethod
    def exempt(cls, reason: str) -> Vat:
        return cls(VatCategory.exempt, Decimal("0"), reason)

    @classmethod
    def reverse_charge(cls, reason: str = "Btw verlegd / VAT reverse charge") -> Vat:
        return cls(VatCategory.reverse_charge, Decimal("0"), reason)

    @classmethod
    def zero(cls) -> Vat:
        return cls(VatCategory.zero, Decimal("0"))

    @property
    def key(self) -> tuple[str, Decimal]:
        """One VAT breakdown per category and rate (EN 16931 BG-23)."""
        return (self.category.value, self.rate)

@dataclass(frozen=True)
class Line:
    """One invoice line: ``quantity`` × ``unit_price`` / ``base_quantity``.

    ``base_quantity`` lets a price hold per block: written coaching at € 80 per 60
    minutes is ``Line(quantity=45, unit=Unit.minute, unit_price=80, base_quantity=60)``.
    """

    description: str
    quantity: Decimal
    unit: Unit
    unit_price: Decimal
    vat: Vat
    base_quantity: Decimal = Decimal("1")
    start: date | None = None  # the day of the session, or the first day of a period
    end: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "description", _required(self.description, N_("Description"), multiline=True))
        quantity = to_decimal(self.quantity, N_("Quantity"))
        price = to_decimal(self.unit_price, N_("Price"))
        base = to_decimal(self.base_quantity, N_("Price per"))
        if price < 0:
            raise InvoiceError("price", N_("A price cannot be negative; use a credit note instead."))
        if base <= 0:
            raise InvoiceError("base_quantity", N_("A price holds for a positive quantity."))
        if not isinstance(self.unit, Unit) or not isinstance(self.vat, Vat):
            raise InvoiceError("line_type", N_("A line needs a unit and a VAT category."))
        object.__setattr__(self, "quantity", quantity)
        object.__setattr__(self, "unit_price", price)
        object.__setattr__(self, "base_quantity", base)
        end = self.end if self.end is not None else self.start
        if self.start is not None and end is not None and end < self.start:
            raise InvoiceError("period", N_("A period cannot end before it starts."))
        object.__setattr__(self, "end", end)


@dataclass(frozen=True)
class CreditedInvoice:
    """The invoice a credit note corrects (EN 16931 BG-3)."""

    number: str
    issue_date: date


@dataclass(frozen=True)
class Invoice:
    """An invoice or credit note. For a credit note the lines hold what is credited,
    with positive quantities (UBL's convention); bookkeeping exports turn the sign."""

    number: str
    issue_date: date
    seller: Seller
    client: Client
    lines: tuple[Line, ...]
    due_date: date | None = None
    period_start: date | None = None
    period_end: date | None = None
    note: str | None = None
    kind: DocumentKind = DocumentKind.invoice
    credited: CreditedInvoice | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", _required(self.number, N_("Invoice number")))
        object.__setattr__(self, "note", clean_text(self.note or "", multiline=True) or None)
        object.__setattr__(self, "lines", tuple(self.lines))

    @property
    def language(self) -> str:
        return self.client.language

    @property
    def is_credit_note(self) -> bool:
        return self.kind is DocumentKind.credit_note

    @property
    def sign(self) -> int:
        """+1 for an invoice, -1 for a credit note: the sign in bookkeeping."""
        return -1 if self.is_credit_note else 1
