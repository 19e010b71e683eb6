"""Tables of outgoing webhooks: a coach's endpoints and the deliveries queued for them.

A delivery row holds only what happened (type) and the ids it concerns: the JSON body is
built from the database when it is sent, so no text of a conversation is ever copied
here. The endpoint's signing secret is stored encrypted (``ecoach.actions.webhooks``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime

# Delivery statuses: pending (a task will send it), delivered, failed (parked after
# webhooks.max_attempts, or its endpoint was turned off; "retry" sends it again), skipped
# (nothing to send any more: the engagement changed hands or is gone).
PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"


class WebhookEndpoint(Base):
    __tablename__ = "webhook_endpoint"
    __table_args__ = (Index("ix_webhook_endpoint_coach", "coach_id", "enabled"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[str] = mapped_column(String(500))  # chosen core.webhooks.CHOICES, comma-separated
    include_text: Mapped[bool] = mapped_column(Boolean, default=False)  # exchange text in the payload
    secret: Mapped[str] = mapped_column(String(300))  # Fernet-encrypted signing secret
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    # The failures since the last success started at failing_since; past
    # webhooks.disable_after_hours the endpoint is turned off (disabled_reason "failing").
    failing_since: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_result: Mapped[str | None] = mapped_column(String(300))  # "HTTP 200", "timeout after 10 s", ...
    last_success_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    disabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    disabled_reason: Mapped[str | None] = mapped_column(String(16))  # coach, failing


class WebhookDelivery(Base):
    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_delivery_status", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(40))
    engagement_id: Mapped[int | None] = mapped_column(BigInteger)
    object_id: Mapped[int | None] = mapped_column(BigInteger)  # the exchange, booking or commitment
    detail: Mapped[str | None] = mapped_column(String(16))  # the status an engagement moved to
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    last_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    last_result: Mapped[str | None] = mapped_column(String(300))
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
