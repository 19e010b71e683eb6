"""An issued invoice as JSON and back: what ``billing_invoice.document`` stores.

The stored document is the invoice itself (parties, lines, VAT, dates), so its UBL, PDF
and CSV are drawn again from it, identically, for as long as it is kept. Decimals travel
as strings (exact), dates as ISO 8601, codes as their values.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from ecoach.core.invoicing import (
    Address, Client, CreditedInvoice, DocumentKind, Invoice, Line, Seller, Unit, Vat, VatCategory,
)

VERSION = 1


def _day(value: date | None) -> str | None:
    return value.isoformat() if value else None


def _from_day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _address(a: Address) -> dict[str, Any]:
    return {"street": a.street, "postal_code": a.postal_code, "city": a.city, "country": a.country,
            "extra": a.extra}


def _line(line: Line) -> dict[str, Any]:
    return {"description": line.description, "quantity": str(line.quantity), "unit": line.unit.value,
            "unit_price": str(line.unit_price), "base_quantity": str(line.base_quantity),
            "vat": {"category": line.vat.category.value, "rate": str(line.vat.rate),
                    "reason": line.vat.exemption_reason},
            "start": _day(line.start), "end": _day(line.end)}


def to_json(invoice: Invoice) -> dict[str, Any]:
    seller, client = invoice.seller, invoice.client
    return {
        "version": VERSION, "number": invoice.number, "issue_date": _day(invoice.issue_date),
        "due_date": _day(invoice.due_date), "period_start": _day(invoice.period_start),
        "period_end": _day(invoice.period_end), "note": invoice.note, "kind": invoice.kind.value,
        "credited": ({"number": invoice.credited.number, "issue_date": _day(invoice.credited.issue_date)}
                     if invoice.credited else None),
        "seller": {"name": seller.name, "address": _address(seller.address), "kvk": seller.kvk,
                   "vat_number": seller.vat_number, "iban": seller.iban, "email": seller.email,
                   "trade_name": seller.trade_name, "phone": seller.phone, "bic": seller.bic},
        "client": {"number": client.number, "name": client.name, "address": _address(client.address),
                   "organisation": client.organisation, "contact": client.contact, "email": client.email,
                   "kvk": client.kvk, "vat_number": client.vat_number, "reference": client.reference,
                   "order_reference": client.order_reference, "language": client.language},
        "lines": [_line(line) for line in invoice.lines],
    }


def _from_line(data: dict[str, Any]) -> Line:
    vat = data["vat"]
    return Line(description=data["description"], quantity=Decimal(data["quantity"]), unit=Unit(data["unit"]),
                unit_price=Decimal(data["unit_price"]), base_quantity=Decimal(data["base_quantity"]),
                vat=Vat(VatCategory(vat["category"]), Decimal(vat["rate"]), vat["reason"]),
                start=_from_day(data["start"]), end=_from_day(data["end"]))


def from_json(data: dict[str, Any]) -> Invoice:
    seller, client, credited = data["seller"], data["client"], data["credited"]
    return Invoice(
        number=data["number"], issue_date=date.fromisoformat(data["issue_date"]),
        seller=Seller(**{**seller, "address": Address(**seller["address"])}),
        client=Client(**{**client, "address": Address(**client["address"])}),
        lines=tuple(_from_line(line) for line in data["lines"]), due_date=_from_day(data["due_date"]),
        period_start=_from_day(data["period_start"]), period_end=_from_day(data["period_end"]),
        note=data["note"], kind=DocumentKind(data["kind"]),
        credited=CreditedInvoice(credited["number"], date.fromisoformat(credited["issue_date"])) if credited else None,
    )
