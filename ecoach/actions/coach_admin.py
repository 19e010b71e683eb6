"""Coach administration (the administrator role): invite, deactivate, reactivate, hand a
deactivated coach's engagements to another coach, change roles.

A deactivated coach cannot log in, their sessions end at once and their API tokens stop
working; their logbooks stay. Handing over moves the engagements (with their coachees,
open commitments, booking links and held mail), the coach's groups (with their
conversations) and the other coaches on those engagements to the new coach in one
transaction: a co-coach role the old coach held elsewhere ends, and an engagement handed to
its own co-coach (or supervisor) no longer lists them besides the owner. Booked sessions
stay in the old coach's calendar for the new coach to rebook. Values sealed with the old
coach's key (a group's name, the coach's group messages) name that key and stay readable.

Every change is in the audit trail of the coach it concerns, with the administrator as
the actor (None from the command line).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions import account_links
from ecoach.actions.audit import record_audit
from ecoach.actions.auth_sessions import do_end_sessions
from ecoach.actions.coaches import check_role, do_add_coach
from ecoach.actions.errors import ActionError, Conflict, Forbidden, N_, NotFound
from ecoach.logbook import queries
from ecoach.logbook.availability_models import Commitment
from ecoach.logbook.booking_models import BookingLink
from ecoach.logbook.group_models import CO_COACH, CoachingGroup, EngagementMember, GroupMessage, SupervisionItem
from ecoach.logbook.mail_models import Quarantine
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.settings import Settings

log = logging.getLogger(__name__)


async def _coach(session: AsyncSession, coach_id: int) -> Coach:
    coach = await queries.get_coach(session, coach_id)
    if coach is None:
        raise NotFound("coach_unknown", N_("This coach does not exist."))
    return coach


async def do_invite_coach(session: AsyncSession, settings: Settings, inviter: Coach, *, name: str, email: str,
                          language: str, now: datetime) -> tuple[Coach, str]:
    """A new coach without a password and the invitation link (mailed when mail is on)."""
    coach = await do_add_coach(session, name=name, email=email, password=None, language=language,
                               time_zone=settings.default_time_zone, now=now, role="coach")
    url = await account_links.do_invite_mail(session, settings, coach, inviter, now=now)
    log.info("coach %s invited by %s", coach.id, inviter.id)
    record_audit(session, "coach_invited", coach_id=coach.id, now=now)
    return coach, url


async def do_reinvite(session: AsyncSession, settings: Settings, inviter: Coach, coach_id: int, *,
                      now: datetime) -> str:
    coach = await _coach(session, coach_id)
    if coach.password_hash:
        raise Conflict("coach_not_invited", N_("This coach has set a password already."))
    url = await account_links.do_invite_mail(session, settings, coach, inviter, now=now)
    record_audit(session, "coach_invited", coach_id=coach.id, now=now, again=True)
    return url


async def do_deactivate(session: AsyncSession, admin: Coach | None, coach_id: int, *, now: datetime,
                        reason: str = "deactivated") -> list[int]:
    """Deactivate and end every session at once (the session ends are announced after
    commit). ``admin`` is None from the command line. Returns the ended session ids."""
    coach = await _coach(session, coach_id)
    if admin is not None and coach.id == admin.id:
        raise Forbidden("deactivate_self", N_("You cannot deactivate your own account."))
    if coach.deactivated_at is not None:
        return []
    coach.deactivated_at = now
    log.info("coach %s deactivated by %s", coach.id, admin.id if admin else "the command line")
    record_audit(session, "coach_deactivated", coach_id=coach.id, now=now)
    return await do_end_sessions(session, coach.id, reason=reason, now=now)


async def do_reactivate(session: AsyncSession, coach_id: int, *, now: datetime) -> None:
    coach = await _coach(session, coach_id)
    if coach.deactivated_at is not None:
        coach.deactivated_at = None
        record_audit(session, "coach_reactivated", coach_id=coach.id, now=now)


async def do_set_role(session: AsyncSession, admin: Coach, coach_id: int, role: str, *, now: datetime) -> None:
    coach = await _coach(session, coach_id)
    role = check_role(role)
    if coach.id == admin.id and role != "admin":
        raise Forbidden("demote_self", N_("You cannot take the administrator role from yourself."))
    if coach.role != role:
        coach.role = role
        record_audit(session, "role_changed", coach_id=coach.id, now=now, role=role)


async def do_hand_over(session: AsyncSession, from_id: int, to_id: int, *, now: datetime) -> int:
    """Move every engagement of a deactivated coach to an active one; returns how many.
    Both coaches' trails note it."""
    old, new = await _coach(session, from_id), await _coach(session, to_id)
    if old.deactivated_at is None:
        raise ActionError("hand_over_active", N_("Deactivate the coach before handing over their engagements."))
    if new.deactivated_at is not None or new.id == old.id or not new.password_hash:
        raise ActionError("hand_over_target", N_("Choose an active coach to take over the engagements."))
    ids = list((await session.execute(select(Engagement.id).where(Engagement.coach_id == old.id))).scalars())
    if ids:
        await session.execute(update(Engagement).where(Engagement.id.in_(ids)).values(coach_id=new.id))
        await session.execute(update(Coachee).where(Coachee.coach_id == old.id).values(coach_id=new.id))
        await session.execute(update(Commitment).where(Commitment.engagement_id.in_(ids))
                              .values(coach_id=new.id))
        await session.execute(update(BookingLink).where(BookingLink.engagement_id.in_(ids))
                              .values(coach_id=new.id))
    await session.execute(update(Quarantine).where(Quarantine.coach_id == old.id, Quarantine.status == "held")
                          .values(coach_id=new.id))
    groups = await _hand_over_groups_and_team(session, old, new, ids, now=now)
    log.info("%d engagement(s) of coach %s handed to coach %s", len(ids), old.id, new.id)
    extra = {"groups": groups} if groups else {}  # the trail names the groups only when there were any
    record_audit(session, "engagements_handed_over", coach_id=old.id, now=now, moved=len(ids), to_coach=new.id,
                 **extra)
    record_audit(session, "engagements_handed_over", coach_id=new.id, now=now, moved=len(ids), from_coach=old.id,
                 **extra)
    return len(ids)


async def _hand_over_groups_and_team(session: AsyncSession, old: Coach, new: Coach, ids: list[int], *,
                                     now: datetime) -> int:
    """The groups go with their members (returns how many); the old coach's co-coach roles
    end; the new coach is no longer listed as co-coach or supervisor of what they now own."""
    groups = list((await session.execute(select(CoachingGroup.id).where(CoachingGroup.coach_id == old.id))).scalars())
    if groups:
        await session.execute(update(CoachingGroup).where(CoachingGroup.id.in_(groups)).values(coach_id=new.id))
        # group_message.coach_id names the group's coach (the author stays author_coach_id).
        await session.execute(update(GroupMessage).where(GroupMessage.group_id.in_(groups)).values(coach_id=new.id))
    ended = list(await session.execute(
        select(EngagementMember.engagement_id, Engagement.coach_id)
        .join(Engagement, Engagement.id == EngagementMember.engagement_id)
        .where(EngagementMember.coach_id == old.id, EngagementMember.role == CO_COACH)))
    if ended:
        await session.execute(delete(EngagementMember).where(EngagementMember.coach_id == old.id,
                                                             EngagementMember.role == CO_COACH))
    if ids:
        await session.execute(delete(SupervisionItem).where(SupervisionItem.supervisor_id == new.id,
                                                            SupervisionItem.engagement_id.in_(ids)))
        await session.execute(delete(EngagementMember).where(EngagementMember.coach_id == new.id,
                                                             EngagementMember.engagement_id.in_(ids)))
    for engagement_id, owner_id in ended:  # in the owner's trail, as when the owner removes one
        record_audit(session, "co_coach_removed", coach_id=owner_id, engagement_id=engagement_id, now=now,
                     member=old.id, hand_over=True)
    return len(groups)
