"""Tables of the coachee's data rights: requests for their data package, and when an
engagement's logbook is erased.

Both hang off ``engagement.id``: erasing an engagement deletes its rows here too. What a
coach wrote when declining (the only personal text) is sealed under the engagement's key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ecoach.logbook.models import Base, BigId, UtcDateTime
from ecoach.logbook.sealed import Scope, sealed

# Export request statuses: requested (waiting for the coach), approved (a download link
# works until expires_at), declined (the coach said why), expired (the link ran out).
REQUESTED, APPROVED, DECLINED = "requested", "approved", "declined"


class ExportRequest(Base):
    """A request for the coachee's data package: asked by the coachee, approved by the coach."""

    __tablename__ = "export_request"
    __sealed_scope__ = Scope.engagement()
    __table_args__ = (
        Index("ix_export_request_engagement", "engagement_id", "id"),
        # The inbox's "waiting for your approval": a coach's open requests.
        Index("ix_export_request_coach", "coach_id", "status"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
    coach_id: Mapped[int] = mapped_column(ForeignKey("coach.id"))
    status: Mapped[str] = mapped_column(String(16))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The download link: only the token's digest; with the server's secret key and the
    # salt the link can be shown again on the coachee's chat page.
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    salt: Mapped[str | None] = mapped_column(String(64))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    last_download_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    include_notes: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = sealed()  # why the coach declined, shown to the coachee


class RetentionPlan(Base):
    """When an engagement's logbook is erased: its own choice (``keep_months``: NULL follows
    the practice's policy, 0 never erases automatically), an extension, and the planned
    moment with its warning. No personal data."""

    __tablename__ = "retention_plan"
    __table_args__ = (Index("ix_retention_plan_due", "erase_at"),)

    engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"), primary_key=True)
    keep_months: Mapped[int | None] = mapped_column(Integer)
    extended_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    # The practice's policy (months) the plan was made with: a changed policy re-plans.
    policy_months: Mapped[int] = mapped_column(Integer, default=0)
    erase_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    warned_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
