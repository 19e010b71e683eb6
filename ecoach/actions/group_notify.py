"""The coach hears of a group's messages as of one-to-one messages (``notify``): with
``notify_coach = "immediate"``, one short mail when a member's message makes the group
unread (the first since the coach last read it), none for the ones after; the daily digest
(``notify.do_coach_digests``) lists the groups with unread messages. No coaching content:
who wrote, in which group, and the link to the group page."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import N_
from ecoach.actions.notify import queue_notification
from ecoach.core.i18n import gettext_for
from ecoach.logbook import queries
from ecoach.logbook.group_models import CoachingGroup, GroupMessage
from ecoach.settings import Settings

log = logging.getLogger(__name__)

GROUP_SUBJECT = N_("%(name)s wrote in the group %(group)s")
GROUP_BODY = N_("%(name)s wrote in the group %(group)s.\n\nRead and answer: %(url)s")


async def do_notify_group_message(session: AsyncSession, group: CoachingGroup, message: GroupMessage, *,
                                  settings: Settings, now: datetime) -> int:
    """Queue the coach's mail if this member's message is the group's first unread one;
    returns how many were queued (0 or 1)."""
    mail = settings.mail
    if not mail.enabled or mail.notify_coach != "immediate" or message.author != "coachee" \
            or group.coach_unread != 1:
        return 0
    coach = await queries.get_coach(session, group.coach_id)
    if coach is None or coach.deactivated_at is not None:
        return 0
    _ = gettext_for(coach.language)
    values = {"name": message.author_name, "group": group.name, "url": f"{settings.base_url}/groups/{group.id}"}
    await queue_notification(session, settings, now, to_address=coach.email, to_name=coach.name,
                             subject=_(GROUP_SUBJECT) % values, text=_(GROUP_BODY) % values, engagement_id=None)
    log.info("coach %s notified of group %s", coach.id, group.id)
    return 1
