"""The two parties of an invoice: the coaching practice and its client."""

from __future__ import annotations

import re
from dataclasses import dataclass

from stdnum import iban as iban_number
from stdnum.eu import vat as eu_vat
from stdnum.nl import postcode as nl_postcode

from ecoach.core.invoicing.errors import N_, InvoiceError
from ecoach.core.invoicing.fields import optional as _optional
from ecoach.core.invoicing.fields import required as _required

_KVK = re.compile(r"[0-9]{8}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


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
