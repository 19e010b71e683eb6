"""The coach's notes: private by default, or shared with the coachee.

A private note is an internal exchange (channel ``note``, direction ``internal``): only the
coach's pages show it; never the coachee's chat, the sponsor's page or an export for
supervision (``ecoach.logbook.export_queries``). A shared note (direction ``out``, meta
``shared``) is written for the coachee to read in their chat page, set apart from chat
messages; like any message to the coachee it counts as the coach's answer.
"""

from __future__ import annotations

from ecoach.actions.errors import N_, NotFound
from ecoach.actions.exchanges import NewExchange, Recorded
from ecoach.actions.replies import ReplyContext
from ecoach.logbook import queries
from ecoach.logbook.models import Coach


async def do_add_note(ctx: ReplyContext, coach: Coach, engagement_id: int, *, text: str, shared: bool,
                      client_id: str) -> Recorded:
    """Record a note (text checked by the caller); another coach's engagement is not found."""
    async with ctx.sessions() as session:  # only a look: the writer records it
        if await queries.get_engagement(session, coach.id, engagement_id) is None:
            raise NotFound("engagement_unknown", N_("This engagement does not exist."))
    return await ctx.writer.submit(NewExchange(
        engagement_id=engagement_id, channel="note", direction="out" if shared else "internal", author="coach",
        author_name=coach.name, text=text, external_id=f"note:{client_id}",
        meta={"shared": True} if shared else None,
    ))
