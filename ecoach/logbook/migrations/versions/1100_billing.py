"""Bundles, usage and invoices: the practice as seller, products, clients, plans, the
usage ledger (append-only), issued invoices (immutable) and their gap-free numbers.

Revision ID: 1100
Revises: 0400
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from ecoach.logbook.models import BigId, UtcDateTime

revision = "1100"
down_revision = "0400"
branch_labels = None
depends_on = None

Cents = sa.BigInteger()
# Columns that never change once written; the references may only become NULL (erasure).
USAGE_FIXED = ("id", "coach_id", "source", "kind", "day", "sessions", "minutes", "quantity", "unit",
               "unit_price", "base_quantity", "label", "created_at")
USAGE_DETACHABLE = ("engagement_id", "plan_id")
INVOICE_FIXED = ("id", "coach_id", "number", "kind", "issue_date", "period_start", "period_end",
                 "client_number", "credited_id", "net", "vat", "gross", "created_at", "document", "ubl")
INVOICE_DETACHABLE = ("client_id",)
GUARDED = {"billing_usage": (USAGE_FIXED, USAGE_DETACHABLE, "the usage ledger is append-only"),
           "billing_invoice": (INVOICE_FIXED, INVOICE_DETACHABLE, "an issued invoice cannot be changed")}


def upgrade() -> None:
    _tables()
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_guards()
    else:
        _postgres_guards()


def _tables() -> None:
    op.create_table(
        "billing_practice",
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), primary_key=True),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.Column("vat", sa.String(16), nullable=False),
        sa.Column("payment_days", sa.Integer(), nullable=False),
        sa.Column("refuse_when_used_up", sa.Boolean(), nullable=False),
        sa.Column("warn_coachee", sa.Boolean(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "billing_product",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("unlimited_written", sa.Boolean(), nullable=False),
        sa.Column("months", sa.Integer()),
        sa.Column("price", Cents),
        sa.Column("session_price", Cents),
        sa.Column("hourly_rate", Cents),
        sa.Column("vat", sa.String(16)),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "billing_client",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False, index=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id", ondelete="CASCADE"), index=True),
        sa.Column("organisation", sa.Boolean(), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("details", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    _plans_and_usage()
    _invoices()


def _plans_and_usage() -> None:
    op.create_table(
        "billing_plan",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False, index=True),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("product_id", BigId, sa.ForeignKey("billing_product.id")),
        sa.Column("client_id", BigId, sa.ForeignKey("billing_client.id", ondelete="SET NULL")),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("unlimited_written", sa.Boolean(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date()),
        sa.Column("price", Cents),
        sa.Column("session_price", Cents),
        sa.Column("hourly_rate", Cents),
        sa.Column("vat", sa.String(16)),
        sa.Column("warned", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("ended_at", UtcDateTime()),
    )
    op.create_index("uq_billing_plan_active", "billing_plan", ["engagement_id"], unique=True,
                    sqlite_where=sa.text("ended_at IS NULL"), postgresql_where=sa.text("ended_at IS NULL"))
    op.create_table(
        "billing_usage",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("engagement_id", BigId, sa.ForeignKey("engagement.id", ondelete="SET NULL"), index=True),
        sa.Column("plan_id", BigId, sa.ForeignKey("billing_plan.id", ondelete="SET NULL")),
        sa.Column("source", sa.String(80), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(3), nullable=False),
        sa.Column("unit_price", Cents, nullable=False),
        sa.Column("base_quantity", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(200), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_billing_usage_plan", "billing_usage", ["plan_id", "kind"])
    op.create_index("ix_billing_usage_month", "billing_usage", ["coach_id", "day"])


def _invoices() -> None:
    op.create_table(
        "billing_invoice",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), nullable=False),
        sa.Column("number", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("client_id", BigId, sa.ForeignKey("billing_client.id", ondelete="SET NULL"), index=True),
        sa.Column("client_number", sa.String(32), nullable=False),
        sa.Column("credited_id", BigId, sa.ForeignKey("billing_invoice.id"), unique=True),
        sa.Column("net", Cents, nullable=False),
        sa.Column("vat", Cents, nullable=False),
        sa.Column("gross", Cents, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("document", sa.LargeBinary(), nullable=False),
        sa.Column("ubl", sa.LargeBinary(), nullable=False),
        sa.UniqueConstraint("coach_id", "number", name="uq_billing_invoice_number"),
    )
    op.create_index("ix_billing_invoice_period", "billing_invoice", ["coach_id", "period_start"])
    op.create_table(
        "billing_invoice_number",
        sa.Column("coach_id", BigId, sa.ForeignKey("coach.id"), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    op.create_table(
        "billing_invoice_usage",
        sa.Column("usage_id", BigId, sa.ForeignKey("billing_usage.id"), primary_key=True),
        sa.Column("invoice_id", BigId, sa.ForeignKey("billing_invoice.id"), nullable=False, index=True),
    )


def _sqlite_guards() -> None:
    for table, (fixed, detachable, message) in GUARDED.items():
        same = " AND ".join([f"new.{c} IS old.{c}" for c in fixed]
                            + [f"(new.{c} IS old.{c} OR new.{c} IS NULL)" for c in detachable])
        op.execute(f"CREATE TRIGGER {table}_guard_update BEFORE UPDATE ON {table} WHEN NOT ({same}) "
                   f"BEGIN SELECT RAISE(ABORT, '{message}'); END")
        op.execute(f"CREATE TRIGGER {table}_guard_delete BEFORE DELETE ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def _postgres_guards() -> None:
    for table, (fixed, detachable, message) in GUARDED.items():
        changed = " OR ".join([f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in fixed]
                              + [f"(NEW.{c} IS DISTINCT FROM OLD.{c} AND NEW.{c} IS NOT NULL)" for c in detachable])
        op.execute(f"""
            CREATE FUNCTION {table}_guard() RETURNS trigger AS $$
            BEGIN
              IF TG_OP = 'DELETE' OR {changed} THEN
                RAISE EXCEPTION '{message}';
              END IF;
              RETURN NEW;
            END $$ LANGUAGE plpgsql
        """)
        op.execute(f"CREATE TRIGGER {table}_guard BEFORE UPDATE OR DELETE ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {table}_guard()")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for table in GUARDED:
        if sqlite:
            op.execute(f"DROP TRIGGER {table}_guard_update")
            op.execute(f"DROP TRIGGER {table}_guard_delete")
        else:
            op.execute(f"DROP TRIGGER {table}_guard ON {table}")
            op.execute(f"DROP FUNCTION {table}_guard()")
    for table in ("billing_invoice_usage", "billing_invoice_number", "billing_invoice", "billing_usage",
                  "billing_plan", "billing_client", "billing_product", "billing_practice"):
        op.drop_table(table)
