"""What a coach sets up to bill: the practice (seller details, default VAT, booking and
warning choices), the products they sell, and who pays for an engagement.

``check_*`` turns form fields into checked values (the invoicing core's own checks: a KvK
number has 8 digits, an IBAN its checksum, a Dutch postal code its shape); ``do_*`` stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, N_, NotFound
from ecoach.core.bundles import ProductKind, VatChoice, cents
from ecoach.core.inputs import parse_int
from ecoach.core.invoicing import Address, Client, InvoiceError, Seller
from ecoach.logbook import billing_queries as bq
from ecoach.logbook.billing_models import BillingClient, PracticeProfile, Product
from ecoach.logbook.models import Coach, Engagement
from ecoach.settings import BillingSettings

SELLER_FIELDS = ("name", "trade_name", "street", "postal_code", "city", "country", "kvk", "vat_number", "iban",
                 "bic", "email", "phone")
CLIENT_FIELDS = ("name", "street", "postal_code", "city", "country", "extra", "email", "contact", "kvk",
                 "vat_number", "reference", "order_reference")


class DetailsError(ActionError):
    """A refused detail, from the invoicing core; its words ("Street") are translated too."""

    def translated(self, gettext: Any) -> str:
        params = {k: gettext(v) if isinstance(v, str) else v for k, v in self.params.items()}
        text = gettext(self.message)
        return text % params if params else text


def refused(exc: InvoiceError) -> DetailsError:
    return DetailsError(exc.code, exc.message, **exc.params)


def _text(form: Mapping[str, Any], name: str, limit: int = 200) -> str:
    value = str(form.get(name) or "").strip()
    if len(value) > limit:
        raise ActionError("field_too_long", N_("%(field)s can be at most %(limit)s characters."),
                          field=name, limit=limit)
    return value


def _whole(form: Mapping[str, Any], name: str, label: str, high: int, default: int = 0) -> int:
    raw = str(form.get(name) or "").strip()
    if not raw:
        return default
    value = parse_int(raw, low=0, high=high)
    if value is None:
        raise ActionError("number_invalid", N_("%(name)s must be a whole number from %(low)s to %(high)s."),
                          name=label, low=0, high=high)
    return value


def _money(form: Mapping[str, Any], name: str, label: str) -> int | None:
    try:
        return cents(str(form.get(name) or ""))
    except ValueError:
        raise ActionError("amount_invalid", N_("%(name)s must be an amount in euros, such as 95 or 95,50."),
                          name=label) from None


def _vat(value: Any, *, optional: bool) -> str | None:
    text = str(value or "")
    if optional and not text:
        return None
    if text not in {c.value for c in VatChoice}:
        raise ActionError("vat_invalid", N_("Choose one of the VAT options."))
    return text


# --- the practice ------------------------------------------------------------------------


@dataclass(frozen=True)
class PracticeForm:
    details: dict[str, str | None]
    vat: str
    payment_days: int
    refuse_when_used_up: bool
    warn_coachee: bool


def seller_of(details: Mapping[str, Any]) -> Seller:
    """The practice as the invoicing core's seller; raises InvoiceError when incomplete."""
    address = Address(street=details.get("street") or "", postal_code=details.get("postal_code") or "",
                      city=details.get("city") or "", country=details.get("country") or "NL")
    return Seller(name=details.get("name") or "", address=address, kvk=details.get("kvk") or "",
                  vat_number=details.get("vat_number") or "", iban=details.get("iban") or "",
                  email=details.get("email") or "", trade_name=details.get("trade_name"),
                  phone=details.get("phone"), bic=details.get("bic"))


def check_practice_form(form: Mapping[str, Any]) -> PracticeForm:
    raw = {name: _text(form, name) for name in SELLER_FIELDS}
    try:
        seller = seller_of(raw)
    except InvoiceError as exc:
        raise refused(exc) from None
    details = {"name": seller.name, "trade_name": seller.trade_name, "street": seller.address.street,
               "postal_code": seller.address.postal_code, "city": seller.address.city,
               "country": seller.address.country, "kvk": seller.kvk, "vat_number": seller.vat_number,
               "iban": seller.iban, "bic": seller.bic, "email": seller.email, "phone": seller.phone}
    return PracticeForm(details, str(_vat(form.get("vat"), optional=False)),
                        _whole(form, "payment_days", N_("Days to pay"), 120, 14),
                        bool(form.get("refuse_when_used_up")), bool(form.get("warn_coachee")))


def practice_defaults(settings: BillingSettings) -> dict[str, Any]:
    return {"vat": VatChoice.standard_21.value, "payment_days": settings.payment_days,
            "refuse_when_used_up": settings.refuse_booking_when_used_up, "warn_coachee": settings.warn_coachee,
            "country": "NL"}


async def do_save_practice(session: AsyncSession, coach: Coach, checked: PracticeForm,
                           now: datetime) -> PracticeProfile:
    profile = await bq.get_practice(session, coach.id)
    if profile is None:
        profile = PracticeProfile(coach_id=coach.id)
        session.add(profile)
    profile.details = checked.details
    profile.vat, profile.payment_days = checked.vat, checked.payment_days
    profile.refuse_when_used_up, profile.warn_coachee = checked.refuse_when_used_up, checked.warn_coachee
    profile.updated_at = now
    await session.flush()
    return profile


# --- products ----------------------------------------------------------------------------


def check_product_form(form: Mapping[str, Any]) -> dict[str, Any]:
    name = _text(form, "name")
    if not name:
        raise ActionError("product_name", N_("Give the product a name."))
    try:
        kind = ProductKind(str(form.get("kind") or ""))
    except ValueError:
        raise ActionError("product_kind", N_("Choose a bundle, a subscription or pay per session.")) from None
    values = {
        "name": name, "kind": kind.value, "sessions": _whole(form, "sessions", N_("Sessions"), 1000),
        "minutes": _whole(form, "minutes", N_("Minutes of written coaching"), 100_000),
        "unlimited_written": kind is ProductKind.subscription and bool(form.get("unlimited_written")),
        "months": _whole(form, "months", N_("Months"), 36) or None,
        "price": _money(form, "price", N_("Price")), "session_price": _money(form, "session_price",
                                                                             N_("Price per extra session")),
        "hourly_rate": _money(form, "hourly_rate", N_("Hourly rate for written coaching")),
        "vat": _vat(form.get("vat"), optional=True),
    }
    _check_kind(kind, values)
    return values


def _check_kind(kind: ProductKind, values: dict[str, Any]) -> None:
    if kind is ProductKind.bundle and not (values["sessions"] or values["minutes"]):
        raise ActionError("product_empty", N_("A bundle holds sessions, minutes of written coaching, or both."))
    if kind is not ProductKind.per_session and values["price"] is None:
        raise ActionError("product_price", N_("Give the price of the bundle or subscription."))
    if kind is ProductKind.subscription and not values["months"]:
        raise ActionError("product_months", N_("A subscription runs for a number of months (1 to 36)."))
    if kind is ProductKind.per_session:
        if not values["session_price"]:
            raise ActionError("product_session_price", N_("Give the price per session."))
        values.update(sessions=0, minutes=0, months=None, price=None)
    if kind is ProductKind.bundle:
        values["months"] = None


async def do_save_product(session: AsyncSession, coach: Coach, values: dict[str, Any], *, product_id: int | None,
                          now: datetime) -> Product:
    if product_id is None:
        product = Product(coach_id=coach.id, active=True, created_at=now)
        session.add(product)
    else:
        found = await bq.get_product(session, coach.id, product_id)
        if found is None:
            raise NotFound("product_unknown", N_("This product does not exist."))
        product = found
    for name, value in values.items():
        setattr(product, name, value)
    await session.flush()
    return product


async def do_set_product_active(session: AsyncSession, coach: Coach, product_id: int, active: bool) -> Product:
    product = await bq.get_product(session, coach.id, product_id)
    if product is None:
        raise NotFound("product_unknown", N_("This product does not exist."))
    product.active = active
    return product


# --- who pays ----------------------------------------------------------------------------


def check_client_form(form: Mapping[str, Any], *, organisation: bool, language: str) -> dict[str, Any]:
    raw = {name: _text(form, name) or None for name in CLIENT_FIELDS}
    try:
        client = Client(number="K00000", name=raw["name"] or "", organisation=organisation, language=language,
                        address=Address(raw["street"] or "", raw["postal_code"] or "", raw["city"] or "",
                                        raw["country"] or "NL", raw["extra"]),
                        contact=raw["contact"], email=raw["email"], kvk=raw["kvk"], vat_number=raw["vat_number"],
                        reference=raw["reference"], order_reference=raw["order_reference"])
    except InvoiceError as exc:
        raise refused(exc) from None
    a = client.address
    return {"name": client.name, "street": a.street, "postal_code": a.postal_code, "city": a.city,
            "country": a.country, "extra": a.extra, "email": client.email, "contact": client.contact,
            "kvk": client.kvk, "vat_number": client.vat_number, "reference": client.reference,
            "order_reference": client.order_reference}


def client_of(record: BillingClient) -> Client:
    """A stored client as the invoicing core's client."""
    d = record.details
    return Client(number=record.number, name=d["name"], organisation=record.organisation, language=record.language,
                  address=Address(d["street"], d["postal_code"], d["city"], d["country"], d.get("extra")),
                  contact=d.get("contact"), email=d.get("email"), kvk=d.get("kvk"), vat_number=d.get("vat_number"),
                  reference=d.get("reference"), order_reference=d.get("order_reference"))


async def do_save_client(session: AsyncSession, coach: Coach, engagement: Engagement | None,
                         details: dict[str, Any], *, organisation: bool, client_id: int | None,
                         now: datetime) -> BillingClient:
    """Store a private coachee's details (``engagement``: one client per engagement) or an
    organisation's (new, or ``client_id``)."""
    if client_id is not None:
        record = await bq.get_client(session, coach.id, client_id)
        if record is None or record.organisation != organisation:
            raise NotFound("client_unknown", N_("This client does not exist."))
    elif not organisation and engagement is not None:
        record = await bq.get_private_client(session, engagement.id)
    else:
        record = None
    if record is None:
        record = BillingClient(coach_id=coach.id, organisation=organisation, created_at=now,
                               engagement_id=None if organisation or engagement is None else engagement.id,
                               language=engagement.language if engagement is not None else coach.language)
        session.add(record)
    record.details, record.updated_at = details, now
    await session.flush()
    return record
