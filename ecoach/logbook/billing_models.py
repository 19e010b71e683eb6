"""Tables of bundles, usage and invoices.

- ``billing_practice``: a coach's practice as seller (sealed under the coach's key).
- ``billing_product``: what a coach sells (no personal data).
- ``billing_client``: who pays: a private coachee (sealed under the engagement's key, and
  erased with it) or a sponsor organisation (sealed under the coach's key).
- ``billing_plan``: the product an engagement holds, its terms copied when sold.
- ``billing_usage``: the usage ledger, append-only, without personal data. Each entry has a
  unique ``source`` (``booking:<id>``, ``exchange:<id>``, ``plan:<id>``, ...), so a
  session held or a reply is counted once however often it is retried.
- ``billing_invoice``: issued invoices and credit notes, immutable (database triggers),
  their documents (the invoice's data and its UBL) sealed under the coach's key: the fiscal
  retention duty (7 years) outlives an engagement's erasure, which only detaches them
  (``client_id`` becomes NULL).
- ``billing_invoice_number``: the gap-free number sequence per coach and year.
- ``billing_invoice_usage``: which invoice billed which usage entry (once).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed

Cents = BigInteger


class PracticeProfile(Base):
    __tablename__ = "billing_practice"
    __sealed_scope__ = Scope.coach()

    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), primary_key=True)
    # name, trade_name, street, postal_code, city, country, kvk, vat_number, iban, bic, email, phone
    details: Mapped[dict[str, Any]] = sealed(dict)
    vat: Mapped[str] = mapped_column(String(16))  # core.bundles.VatChoice
    payment_days: Mapped[int] = mapped_column(Integer)
    refuse_when_used_up: Mapped[bool] = mapped_column(Boolean)
    warn_coachee: Mapped[bool] = mapped_column(Boolean)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Product(Base):
    __tablename__ = "billing_product"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))  # core.bundles.ProductKind
    sessions: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
    unlimited_written: Mapped[bool] = mapped_column(Boolean)
    months: Mapped[int | None] = mapped_column(Integer)
    price: Mapped[int | None] = mapped_column(Cents)  # cents: the bundle or the subscription
    session_price: Mapped[int | None] = mapped_column(Cents)
    hourly_rate: Mapped[int | None] = mapped_column(Cents)
    vat: Mapped[str | None] = mapped_column(String(16))  # None: the practice's default
    active: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BillingClient(Base):
    __tablename__ = "billing_client"
    __sealed_scope__ = Scope.engagement() | Scope.coach()

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), index=True)
    # Set for a private coachee: the client is erased with the engagement.
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagement.id", ondelete="CASCADE"),
                                                      index=True)
    organisation: Mapped[bool] = mapped_column(Boolean)
    language: Mapped[str] = mapped_column(String(8))
    # name, street, postal_code, city, country, extra, email, contact, kvk, vat_number,
    # reference, order_reference
    details: Mapped[dict[str, Any]] = sealed(dict)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def number(self) -> str:
        """The practice's client number on invoices."""
        return f"K{self.id:05d}"


ACTIVE_PLAN = "ended_at IS NULL"


class EngagementPlan(Base):
    __tablename__ = "billing_plan"
    __table_args__ = (
        Index("uq_billing_plan_active", "engagement_id", unique=True,
              sqlite_where=text(ACTIVE_PLAN), postgresql_where=text(ACTIVE_PLAN)),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), index=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int | None] = mapped_column(ForeignKey("billing_product.id"))
    client_id: Mapped[int | None] = mapped_column(ForeignKey("billing_client.id", ondelete="SET NULL"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    sessions: Mapped[int] = mapped_column(Integer)
    minutes: Mapped[int] = mapped_column(Integer)
    unlimited_written: Mapped[bool] = mapped_column(Boolean)
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date | None] = mapped_column(Date)
    price: Mapped[int | None] = mapped_column(Cents)
    session_price: Mapped[int | None] = mapped_column(Cents)
    hourly_rate: Mapped[int | None] = mapped_column(Cents)
    vat: Mapped[str | None] = mapped_column(String(16))
    # The warnings already given for this plan ("low", "used_up"), each once.
    warned: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class UsageEntry(Base):
    """One line of the usage ledger. Never changed, never deleted; an engagement's erasure
    only detaches it (``engagement_id`` and ``plan_id`` become NULL)."""

    __tablename__ = "billing_usage"
    __table_args__ = (
        Index("ix_billing_usage_plan", "plan_id", "kind"),
        Index("ix_billing_usage_month", "coach_id", "day"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    engagement_id: Mapped[int | None] = mapped_column(ForeignKey("engagement.id", ondelete="SET NULL"),
                                                      index=True)
    plan_id: Mapped[int | None] = mapped_column(ForeignKey("billing_plan.id", ondelete="SET NULL"))
    source: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(16))  # purchase, session, reply, adjustment
    day: Mapped[date] = mapped_column(Date)  # in the coach's time zone
    sessions: Mapped[int] = mapped_column(Integer, default=0)  # counted against the plan
    minutes: Mapped[int] = mapped_column(Integer, default=0)
    # What is billed: quantity x unit_price / base_quantity (unit: core.invoicing.Unit)
    quantity: Mapped[int] = mapped_column(Integer, default=0)
    unit: Mapped[str] = mapped_column(String(3), default="C62")
    unit_price: Mapped[int] = mapped_column(Cents, default=0)
    base_quantity: Mapped[int] = mapped_column(Integer, default=1)
    label: Mapped[str] = mapped_column(String(200), default="")  # a product's or session type's name
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())

    @property
    def billable(self) -> bool:
        return self.quantity > 0 and self.unit_price > 0


class InvoiceRecord(Base):
    """An issued invoice or credit note. Immutable (triggers); never deleted."""

    __tablename__ = "billing_invoice"
    __sealed_scope__ = Scope.coach()
    __table_args__ = (
        UniqueConstraint("coach_id", "number", name="uq_billing_invoice_number"),
        Index("ix_billing_invoice_period", "coach_id", "period_start"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    number: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(3))  # core.invoicing.DocumentKind: 380, 381
    issue_date: Mapped[date] = mapped_column(Date)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("billing_client.id", ondelete="SET NULL"),
                                                  index=True)
    client_number: Mapped[str] = mapped_column(String(32))
    credited_id: Mapped[int | None] = mapped_column(ForeignKey("billing_invoice.id"), unique=True)
    net: Mapped[int] = mapped_column(Cents)
    vat: Mapped[int] = mapped_column(Cents)
    gross: Mapped[int] = mapped_column(Cents)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    document: Mapped[dict[str, Any]] = sealed(dict)  # core.invoice_json: the whole invoice
    ubl: Mapped[bytes] = sealed(bytes)  # the e-invoice as issued (the PDF is drawn from ``document``)


class InvoiceNumber(Base):
    """The last number taken per coach and year: read and raised under a row lock in the
    transaction that stores the invoice, so numbers are gap-free and unique."""

    __tablename__ = "billing_invoice_number"

    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(Integer)


class InvoiceUsage(Base):
    """A usage entry billed by an invoice: at most once (primary key). A credit note
    releases its invoice's entries, so they can be billed again, corrected."""

    __tablename__ = "billing_invoice_usage"

    usage_id: Mapped[int] = mapped_column(ForeignKey("billing_usage.id"), primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("billing_invoice.id"), index=True)
