"""What an invoice is made of: the practice, the client, the lines, their VAT.

Typed input for every output (UBL, CSV, PDF). The constructors check what they can
alone (a KvK number has 8 digits, an IBAN its checksum, an exempt line its reason) and
raise :class:`InvoiceError` with a translatable message; rules that need the whole
invoice live in :mod:`ecoach.core.invoicing.checks`.

Amounts are :class:`decimal.Decimal`; the currency is the euro. Text from outside
(descriptions, names) is cleaned of characters XML 1.0 and PDF cannot carry.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from stdnum import iban as iban_number
from stdnum.eu import vat as eu_vat
from stdnum.nl import postcode as nl_postcode

from ecoach.core.invoicing.errors import InvoiceError, N_

CURRENCY = "EUR"
# Dutch VAT rates for a standard-rated line (Wet OB 1968: general 21 %, reduced 9 %).
NL_RATES = (Decimal("21"), Decimal("9"))
# XML 1.0 forbids these (and PDF viewers show them as boxes): C0 controls but tab,
# newline and carriage return; DEL and C1 controls; surrogates; U+FFFE and U+FFFF.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_KVK = re.compile(r"[0-9]{8}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


def clean_text(value: str, *, multiline: bool = False) -> str:
    """Text from outside, safe for XML and PDF: forbidden characters dropped, line
    endings unified, outer space stripped; one line unless ``multiline``."""
    text = _FORBIDDEN.sub("", value).replace("\r\n", "\n").replace("\r", "\n")
    if not multiline:
        text = " ".join(text.split())
    return text.strip()


def _required(value: str | None, what: str, *, multiline: bool = False) -> str:
    text = clean_text(value or "", multiline=multiline)
    if not text:
        raise InvoiceError("missing", N_("%(what)s is missing."), what=what)
    return text


def _optional(value: str | None) -> str | None:
    text = clean_text(value or "")
    return text or None


def to_decimal(value: Any, what: str) -> Decimal:
    """A finite Decimal from a Decimal, int or string (never a float: 0.1 is not exact)."""
    if isinstance(value, float) or isinstance(value, bool):
        raise InvoiceError("not_decimal", N_("%(what)s must be an exact number, not %(value)s."),
                           what=what, value=repr(value))
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvoiceError("not_decimal", N_("%(what)s must be a number, not %(value)s."),
                           what=what, value=repr(value)) from None
    if not number.is_finite():
        raise InvoiceError("not_decimal", N_("%(what)s must be a number, not %(value)s."),
                           what=what, value=repr(value))
    return number


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
class Address:
    street: str  # street and house number, "Oudegracht 12a"
    postal_code: str
    city: str
    country: str = "NL"  # ISO 3166-1 alpha-2
    extra: str | None = None  # a second line: building, "postbus", department

    def __post_init__(self) -> None:
        object.__setattr__(self, "street", _required(self.street, N_("Street")))
        object.__setattr__(self, "city", _required(self.city, N_("City")))
        object.__setattr__(self, "extra", _optional(self.extra))
        country = _required(self.country, N_("Country")).upper()
        if not re.fullmatch("[A-Z]{2}", country):
            raise InvoiceError("country", N_("The country must be a two-letter code such as NL, not %(value)s."),
                               value=country)
        object.__setattr__(self, "country", country)
        code = _required(self.postal_code, N_("Postal code"))
        if country == "NL":
            if not nl_postcode.is_valid(code):
                raise InvoiceError("postal_code", N_("%(value)s is not a Dutch postal code."), value=code)
            compact = nl_postcode.compact(code)
            code = f"{compact[:4]} {compact[4:]}"
        object.__setattr__(self, "postal_code", code)


def _kvk(value: str | None) -> str | None:
    text = _optional(value)
    if text is None:
        return None
    digits = text.replace(" ", "").replace(".", "")
    if not _KVK.fullmatch(digits):
        raise InvoiceError("kvk", N_("A KvK number has 8 digits, not %(value)s."), value=text)
    return digits


def _vat_number(value: str | None) -> str | None:
    text = _optional(value)
    if text is None:
        return None
    if not eu_vat.is_valid(text):
        raise InvoiceError("vat_number", N_("%(value)s is not a valid VAT number (btw-id)."), value=text)
    return eu_vat.compact(text)


def _email(value: str | None) -> str | None:
    text = _optional(value)
    if text is not None and not _EMAIL.fullmatch(text):
        raise InvoiceError("email", N_("%(value)s is not a mail address."), value=text)
    return text


@dataclass(frozen=True)
class Seller:
    """The coaching practice (EN 16931 BG-4). A Dutch practice has a KvK number and a
    btw-id, also when it uses the small-business scheme (KOR)."""

    name: str
    address: Address
    kvk: str
    vat_number: str
    iban: str
    email: str
    trade_name: str | None = None  # when the practice trades under another name
    phone: str | None = None
    bic: str | None = None  # printed on the PDF only: NLCIUS advises against it in UBL

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _required(self.name, N_("The practice's name")))
        object.__setattr__(self, "trade_name", _optional(self.trade_name))
        object.__setattr__(self, "phone", _optional(self.phone))
        object.__setattr__(self, "bic", _optional(self.bic))
        kvk = _kvk(self.kvk)
        if kvk is None:
            raise InvoiceError("missing", N_("%(what)s is missing."), what="KvK")
        object.__setattr__(self, "kvk", kvk)
        vat_number = _vat_number(self.vat_number)
        if vat_number is None:
            raise InvoiceError("missing", N_("%(what)s is missing."), what="BTW-id")
        object.__setattr__(self, "vat_number", vat_number)
        account = _required(self.iban, N_("IBAN"))
        if not iban_number.is_valid(account):
            raise InvoiceError("iban", N_("%(value)s is not a valid IBAN."), value=account)
        object.__setattr__(self, "iban", iban_number.compact(account))
        email = _email(self.email)
        if email is None:
            raise InvoiceError("missing", N_("%(what)s is missing."), what=N_("E-mail"))
        object.__setattr__(self, "email", email)


@dataclass(frozen=True)
class Client:
    """Who pays (EN 16931 BG-7): a private coachee, or a sponsor organisation (an
    employer paying for an employee's coaching)."""

    number: str  # the practice's own client number (used as buyer reference if none)
    name: str
    address: Address
    organisation: bool = False
    contact: str | None = None  # "t.a.v.": the person at the organisation
    email: str | None = None
    kvk: str | None = None
    vat_number: str | None = None
    reference: str | None = None  # the client's own reference (cost centre, "uw kenmerk")
    order_reference: str | None = None  # purchase order number
    language: str = "nl"  # the language the client reads: the PDF's and the payment terms'

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", _required(self.number, N_("Client number")))
        object.__setattr__(self, "name", _required(self.name, N_("Client name")))
        for name in ("contact", "reference", "order_reference"):
            object.__setattr__(self, name, _optional(getattr(self, name)))
        object.__setattr__(self, "email", _email(self.email))
        object.__setattr__(self, "kvk", _kvk(self.kvk))
        object.__setattr__(self, "vat_number", _vat_number(self.vat_number))
        if self.language not in ("nl", "en"):
            raise InvoiceError("language", N_("The language must be nl or en."))
        if not self.organisation and (self.kvk or self.vat_number):
            raise InvoiceError("client_kind", N_("A private client has no KvK number or VAT number; "
                                                 "mark the client as an organisation."))

    @property
    def buyer_reference(self) -> str:
        """EN 16931 BT-10: the client's own reference, else our client number (NLCIUS
        BR-NL-2 asks for a buyer or an order reference on every invoice)."""
        return self.reference or self.number


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
