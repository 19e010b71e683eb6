"""A coach's crisis resources: where their coachees can get help, per coachee language.

Until a coach saves their own, the defaults of ``ecoach.core.crisis.resources`` are shown
(for Dutch: 113 Zelfmoordpreventie, 112, Veilig Thuis). The settings page edits a fixed
number of slots; an empty slot is left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.audit import record_audit
from ecoach.actions.errors import ActionError, N_
from ecoach.core.crisis.resources import PHONE, URL, CrisisResource, ResourceError
from ecoach.logbook.crisis_models import CrisisResources

LANGUAGES = ("nl", "en")
SLOTS = 6
FIELDS = ("name", "description", "phones", "url", "categories")


def form_slots(resources: Sequence[CrisisResource]) -> list[dict[str, str]]:
    """The form's slots for these resources, padded with empty ones."""
    return padded([{"name": r.name, "description": r.description, "phones": ", ".join(r.phones),
                    "url": r.url or "", "categories": " ".join(sorted(c.value for c in r.categories))}
                   for r in resources])


def padded(slots: list[dict[str, str]]) -> list[dict[str, str]]:
    return (slots + [dict.fromkeys(FIELDS, "") for _ in range(SLOTS)])[:SLOTS]


def read_slots(form: Mapping[str, Any]) -> list[dict[str, str]]:
    """The slots as posted (``name-0``, ``phones-0``, ...), empty ones left out."""
    slots = []
    for i in range(SLOTS):
        slot = {name: str(form.get(f"{name}-{i}", ""))[:2000].strip() for name in FIELDS}
        if any(slot[name] for name in ("name", "description", "phones", "url")):
            slots.append(slot)
    return slots


def check_slots(slots: list[dict[str, str]]) -> list[CrisisResource]:
    """Each slot as a resource, or a clear error naming the slot and what is wrong."""
    if not slots:
        raise ActionError("crisis_resources_empty", N_("Give at least one place where your coachees can get help."))
    resources = []
    for number, slot in enumerate(slots, start=1):
        name, phones = slot["name"], [p.strip() for p in slot["phones"].split(",") if p.strip()]
        if not name or len(name) > 120:
            raise ActionError("crisis_resource_name", N_("Resource %(n)s: give a name of at most 120 characters."),
                              n=number)
        if len(slot["description"]) > 500:
            raise ActionError("crisis_resource_description",
                              N_("Resource %(n)s: the description can be at most 500 characters."), n=number)
        if any(not PHONE.fullmatch(phone) for phone in phones):
            raise ActionError("crisis_resource_phone", N_("Resource %(n)s: a phone number has digits, spaces, "
                                                          "dashes and perhaps a + only; separate numbers by commas."),
                              n=number)
        if slot["url"] and not URL.fullmatch(slot["url"]):
            raise ActionError("crisis_resource_url", N_("Resource %(n)s: a website starts with https://."), n=number)
        if not phones and not slot["url"]:
            raise ActionError("crisis_resource_reach", N_("Resource %(n)s: give a phone number or a website."),
                              n=number)
        try:
            resources.append(CrisisResource.from_dict({**slot, "phones": phones, "categories": slot["categories"].split()}))
        except ResourceError:  # only the hidden categories field can still be wrong: leave it out
            resources.append(CrisisResource.from_dict({**slot, "phones": phones, "categories": []}))
    return resources


async def do_save_resources(session: AsyncSession, coach_id: int, language: str,
                            resources: Sequence[CrisisResource], *, now: datetime) -> None:
    row = await session.get(CrisisResources, (coach_id, language))
    stored = [r.to_dict() for r in resources]
    if row is None:
        session.add(CrisisResources(coach_id=coach_id, language=language, resources=stored, updated_at=now))
    else:
        row.resources, row.updated_at = stored, now
    record_audit(session, "crisis_resources_changed", coach_id=coach_id, now=now, language=language)


async def do_reset_resources(session: AsyncSession, coach_id: int, language: str, *, now: datetime) -> None:
    """Back to the defaults for this language."""
    await session.execute(delete(CrisisResources).where(CrisisResources.coach_id == coach_id,
                                                        CrisisResources.language == language))
    record_audit(session, "crisis_resources_changed", coach_id=coach_id, now=now, language=language, reset=True)
