"""The coach's own contract template per language (the default until they keep one)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.coaches import check_language
from ecoach.actions.contract_checks import TermsInput
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.contract_models import ContractTemplate


async def do_save_template(session: AsyncSession, coach_id: int, language: str, terms: TermsInput, *,
                           now: datetime) -> ContractTemplate:
    """New contracts in ``language`` start from these terms (existing versions keep theirs)."""
    language = check_language(language)
    template = await cq.get_template(session, coach_id, language)
    if template is None:
        template = ContractTemplate(coach_id=coach_id, language=language)
        session.add(template)
    template.terms, template.sponsor_sees, template.updated_at = dict(terms.terms), terms.sponsor_sees, now
    await session.flush()
    return template


async def do_reset_template(session: AsyncSession, coach_id: int, language: str) -> None:
    """Back to the default template in ``language``."""
    template = await cq.get_template(session, coach_id, check_language(language))
    if template is not None:
        await session.delete(template)
        await session.flush()
