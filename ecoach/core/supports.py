"""The "four kinds of support" questionnaire (pure): its items and the comparison of the
coachee's and the coach's answers.

Coaching supports a coachee in four ways: **socio-emotional** (being heard and taken
seriously), **network** (seeing and using the people around you), **autonomy** (choosing
your own goals and way) and **career** (your next steps and strengths in work). Each kind
has three short statements, answered on a five-point scale from "not true at all" to
"completely true": the coachee about their coach, the coach about themselves. The items
were written for ecoach (English and Dutch in the catalogues); they are a reflection aid
for coach and coachee, not a validated instrument.

Side by side, a difference of ``DIFFERENCE`` points or more on an item is highlighted: the
coach and coachee see that support differently, which is worth talking about. Sent at the
start and at the end, the averages per kind show the change.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def N_(message: str) -> str:  # noqa: N802 - the gettext marker babel extracts
    return message


DIFFERENCE = 2  # points apart on a five-point item: highlighted


@dataclass(frozen=True)
class Kind:
    key: str
    label: str


@dataclass(frozen=True)
class Item:
    key: str
    kind: str
    coachee: str  # as the coachee reads it (about their coach)
    coach: str  # as the coach reads it (about themselves)


KINDS = (
    Kind("socio_emotional", N_("Socio-emotional support")),
    Kind("network", N_("Network support")),
    Kind("autonomy", N_("Autonomy support")),
    Kind("career", N_("Career support")),
)

ITEMS = (
    Item("se1", "socio_emotional", N_("My coach listened to me with real attention."),
         N_("I listened to my coachee with real attention.")),
    Item("se2", "socio_emotional", N_("I could tell my coach what worried me."),
         N_("My coachee could tell me what worried them.")),
    Item("se3", "socio_emotional", N_("My coach took my feelings seriously."),
         N_("I took my coachee's feelings seriously.")),
    Item("nw1", "network", N_("My coach helped me see who around me can help me."),
         N_("I helped my coachee see who around them can help.")),
    Item("nw2", "network", N_("My coach encouraged me to ask others for advice or support."),
         N_("I encouraged my coachee to ask others for advice or support.")),
    Item("nw3", "network", N_("Through the coaching I made or renewed useful contacts."),
         N_("Through the coaching my coachee made or renewed useful contacts.")),
    Item("au1", "autonomy", N_("My coach left the choice of my goals and my way to me."),
         N_("I left the choice of goals and way to my coachee.")),
    Item("au2", "autonomy", N_("My coach trusted me to find my own answers."),
         N_("I trusted my coachee to find their own answers.")),
    Item("au3", "autonomy", N_("My coach asked questions more than giving advice."),
         N_("I asked questions more than giving advice.")),
    Item("ca1", "career", N_("My coach helped me think about my next steps in work."),
         N_("I helped my coachee think about their next steps in work.")),
    Item("ca2", "career", N_("My coach helped me see my strengths and what I can offer."),
         N_("I helped my coachee see their strengths and what they can offer.")),
    Item("ca3", "career", N_("My coach helped me make concrete plans for my development."),
         N_("I helped my coachee make concrete plans for their development.")),
)

LIKERT = (
    N_("not true at all"),
    N_("hardly true"),
    N_("partly true"),
    N_("mostly true"),
    N_("completely true"),
)


@dataclass(frozen=True)
class Row:
    item: Item
    coachee: int | None
    coach: int | None

    @property
    def difference(self) -> int | None:
        if self.coachee is None or self.coach is None:
            return None
        return self.coach - self.coachee

    @property
    def differs(self) -> bool:
        return self.difference is not None and abs(self.difference) >= DIFFERENCE


@dataclass(frozen=True)
class KindSummary:
    kind: Kind
    rows: tuple[Row, ...]
    coachee: float | None  # average over the answered items
    coach: float | None

    @property
    def differs(self) -> bool:
        return self.coachee is not None and self.coach is not None and abs(self.coach - self.coachee) >= DIFFERENCE


def _score(answers: Mapping[str, Any] | None, key: str) -> int | None:
    value = ((answers or {}).get("fields") or {}).get(key)
    return value if isinstance(value, int) else None


def _average(values: list[int | None]) -> float | None:
    given = [v for v in values if v is not None]
    return round(sum(given) / len(given), 1) if given else None


def compare(coachee: Mapping[str, Any] | None, coach: Mapping[str, Any] | None) -> list[KindSummary]:
    """Per kind of support: each item's two answers, and the averages."""
    summaries = []
    for kind in KINDS:
        rows = tuple(Row(item, _score(coachee, item.key), _score(coach, item.key))
                     for item in ITEMS if item.kind == kind.key)
        summaries.append(KindSummary(kind, rows, _average([r.coachee for r in rows]),
                                     _average([r.coach for r in rows])))
    return summaries


def change(start: list[KindSummary], end: list[KindSummary]) -> list[dict[str, Any]]:
    """Per kind: the averages at the start and at the end, for coachee and coach."""
    out = []
    for first, last in zip(start, end):
        out.append({
            "kind": first.kind,
            "coachee": (first.coachee, last.coachee, _delta(first.coachee, last.coachee)),
            "coach": (first.coach, last.coach, _delta(first.coach, last.coach)),
        })
    return out


def _delta(a: float | None, b: float | None) -> float | None:
    return round(b - a, 1) if a is not None and b is not None else None
