"""Anonymised export for supervision and intervision.

The coach selects exchanges of an engagement; ``build_preview`` replaces every name,
address, number and organisation in them by pseudonyms (``ecoach.core.pseudonymise``),
the engagement's known people (coachee, coach, sponsor) first, consistently across the
selection. The coach reviews the preview, marks what was missed (``StringMark``: hidden
wherever it occurs) and keeps false alarms (``keep``), then downloads it as Markdown.

Private notes and other internal entries are never included, whatever ids a form sends.
Nothing is stored: the selection, marks and kept words travel in the coach's form, and
each preview is computed again from the logbook.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from ecoach.actions.errors import ActionError, N_
from ecoach.core.inputs import parse_int
from ecoach.core.pseudonymise import (KINDS, KnownPerson, Pseudonymised, PseudonymiseError, Replacement,
                                      StringMark, pseudonymise)
from ecoach.logbook import queries
from ecoach.logbook import privacy_queries as sq
from ecoach.logbook.models import Engagement, Exchange

MAX_SELECTED = 200
MAX_MARKS = 200
MAX_MARK_CHARS = 200
OTHER = "other"

ROLES = {"coach": N_("Coach"), "coachee": N_("Coachee"), "system": N_("ecoach")}
TITLE = N_("Supervision export")
INTRO = N_("Pseudonymised with ecoach: names, e-mail addresses, phone numbers, addresses, organisations and "
           "other personal data are replaced; days are counted from the first exchange shown. Private notes "
           "are not included.")
DAY = N_("Day %(day)s, %(time)s")


@dataclass(frozen=True)
class SupervisionForm:
    exchange_ids: tuple[int, ...]
    marks: tuple[StringMark, ...]
    keep: tuple[str, ...]


@dataclass(frozen=True)
class PreviewItem:
    exchange: Exchange
    text: str  # pseudonymised
    replacements: tuple[Replacement, ...]


@dataclass(frozen=True)
class Preview:
    items: tuple[PreviewItem, ...]
    replacements: tuple[Replacement, ...]
    zone: str


def encode_mark(mark: StringMark) -> str:
    return f"{mark.kind}|{mark.text}"


def _mark(value: object) -> StringMark | None:
    if not isinstance(value, str) or "|" not in value:
        return None
    kind, text = value.split("|", 1)
    text = " ".join(text.split())
    if kind not in KINDS or not text or len(text) > MAX_MARK_CHARS:
        return None
    return StringMark(text, kind)


def check_form(ids: Iterable[object], marks: Iterable[object], keep: Iterable[object], *,
               new_mark: object = "", new_kind: object = OTHER) -> SupervisionForm:
    """The selection, marks and kept words from a form (ill-formed entries are dropped)."""
    chosen = list(dict.fromkeys(n for n in (parse_int(i) for i in ids) if n is not None and n > 0))
    if not chosen:
        raise ActionError("selection_empty", N_("Select at least one exchange."))
    if len(chosen) > MAX_SELECTED:
        raise ActionError("selection_too_large", N_("Select at most %(max)s exchanges at a time."), max=MAX_SELECTED)
    found = [m for m in (_mark(v) for v in marks) if m is not None]
    if isinstance(new_mark, str) and new_mark.strip():
        added = _mark(f"{new_kind if new_kind in KINDS else OTHER}|{new_mark}")
        if added is None:
            raise ActionError("mark_invalid", N_("Mark at most %(max)s characters at a time."), max=MAX_MARK_CHARS)
        found.append(added)
    kept = [" ".join(k.split()) for k in keep if isinstance(k, str) and k.strip()]
    return SupervisionForm(tuple(chosen), tuple(dict.fromkeys(found))[:MAX_MARKS],
                           tuple(dict.fromkeys(k[:MAX_MARK_CHARS] for k in kept))[:MAX_MARKS])


async def known_people(session: AsyncSession, engagement: Engagement) -> list[KnownPerson]:
    """The coachee first (always "Person A"), then the coach, then the sponsor."""
    coachee = await queries.get_coachee(session, engagement.coachee_id)
    coach = await queries.get_coach(session, engagement.coach_id)
    assert coachee is not None and coach is not None  # foreign keys
    people = [KnownPerson(coachee.name, [coachee.email] if coachee.email else []),
              KnownPerson(coach.name, [coach.email])]
    if engagement.sponsor_name or engagement.sponsor_email:
        people.append(KnownPerson(engagement.sponsor_name or "",
                                  [engagement.sponsor_email] if engagement.sponsor_email else []))
    return people


async def build_preview(session: AsyncSession, engagement: Engagement, form: SupervisionForm, *,
                        language: str) -> Preview:
    exchanges = await sq.get_shareable_exchanges(session, engagement.id, form.exchange_ids)
    if not exchanges:
        raise ActionError("selection_empty", N_("Select at least one exchange."))
    people = await known_people(session, engagement)
    texts = [x.body_text for x in exchanges]
    try:
        # CPU work on long texts: off the event loop.
        result: Pseudonymised = await asyncio.to_thread(
            pseudonymise, texts, language=language, people=people, marks=form.marks, keep=form.keep)
    except PseudonymiseError as exc:
        raise ActionError("mark_unusable", N_("This mark cannot be used: %(reason)s"), reason=str(exc)) from None
    items = tuple(PreviewItem(x, result.texts[i], tuple(result.in_text(i))) for i, x in enumerate(exchanges))
    return Preview(items, result.replacements, engagement.time_zone)


def segments(text: str, replacements: Sequence[Replacement]) -> list[tuple[str, Replacement | None]]:
    """The pseudonymised text in pieces, each replacement a piece of its own (to highlight)."""
    pieces: list[tuple[str, Replacement | None]] = []
    pos = 0
    for r in sorted(replacements, key=lambda r: r.out_start):
        if r.out_start > pos:
            pieces.append((text[pos:r.out_start], None))
        pieces.append((text[r.out_start:r.out_end], r))
        pos = r.out_end
    if pos < len(text):
        pieces.append((text[pos:], None))
    return pieces


def distinct_replacements(preview: Preview) -> list[Replacement]:
    """One of each (original, kind), in order of first appearance: what the coach reviews."""
    seen: dict[tuple[str, str], Replacement] = {}
    for r in preview.replacements:
        seen.setdefault((" ".join(r.original.casefold().split()), r.kind), r)
    return list(seen.values())


def markdown(preview: Preview, gettext, now: datetime) -> str:  # type: ignore[no-untyped-def]
    """The download: a Markdown file, readable as plain text."""
    zone = ZoneInfo(preview.zone)
    first = preview.items[0].exchange.created_at.astimezone(zone).date()
    lines = [f"# {gettext(TITLE)}", "", gettext(INTRO), ""]
    for item in preview.items:
        local = item.exchange.created_at.astimezone(zone)
        day = gettext(DAY) % {"day": (local.date() - first).days + 1, "time": local.strftime("%H:%M")}
        role = gettext(ROLES.get(item.exchange.author, ROLES["system"]))
        lines += [f"## {day} · {role} · {gettext(item.exchange.channel)}", "", item.text.strip(), ""]
    return "\n".join(lines)


def file_name(now: datetime) -> str:
    return f"supervision-{now:%Y%m%d-%H%M}.md"
