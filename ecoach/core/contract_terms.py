"""The words of a coaching contract (pure rules and data).

A contract's ``terms`` are a dict of the fields in ``TERM_FIELDS``: what is asked of the
coach, the coachee and (in a triangular contract) the sponsor, the practicalities, the
confidentiality and professional-secrecy clauses, the AI clause and what happens when a
question goes beyond coaching. ``default_terms(language)`` is the template a coach starts
from until they keep their own; like the crisis resources these are contract text in the
contract's language, not interface text, so they live here as data (nl and en).

``fingerprint`` gives the SHA-256 of a version's words: what exactly a party accepted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

SCORE_MIN, SCORE_MAX = 1, 10
MAX_INDICATORS = 5
TEXT_FIELDS = ("coach_asks", "coachee_asks", "sponsor_asks", "rhythm", "practicalities",
               "confidentiality", "secrecy", "ai_tools", "ai_purpose", "referral")
NUMBER_FIELDS = ("sessions", "duration_minutes")
CHANNELS = ("chat", "mail", "video", "phone", "in_person")
TERM_FIELDS = (*TEXT_FIELDS, *NUMBER_FIELDS, "end_date", "channels", "ai_used")
# Longest text per field (characters).
MAX_TEXT = {"rhythm": 200, "ai_tools": 300, "ai_purpose": 500}
DEFAULT_MAX_TEXT = 4000

_DEFAULTS: dict[str, dict[str, Any]] = {
    "nl": {
        "coach_asks": (
            "Ik werk volgens de ethische code van de EMCC en de NOBCO. Ik bereid de sessies voor, "
            "beantwoord berichten binnen de afgesproken tijd, stel vragen in plaats van oplossingen "
            "op te leggen en zeg het eerlijk als ik denk dat coaching niet (meer) de juiste hulp is."),
        "coachee_asks": (
            "Jij bent eigenaar van je vraag en je doelen. Je komt voorbereid, probeert tussen de "
            "sessies uit wat we afspreken, laat het tijdig weten als je een afspraak niet kunt "
            "nakomen en zegt het als de coaching je niet (meer) helpt."),
        "sponsor_asks": (
            "De opdrachtgever maakt de coaching mogelijk (tijd en middelen), respecteert de "
            "vertrouwelijkheid hieronder en vraagt niet naar de inhoud van de gesprekken. Wat de "
            "opdrachtgever wil bereiken, bespreken we samen aan het begin."),
        "sessions": 6,
        "rhythm": "om de drie weken",
        "duration_minutes": 60,
        "end_date": None,
        "channels": ["chat", "mail", "video"],
        "practicalities": (
            "Tussen de sessies kun je schrijven via de chat of per mail. Een sessie die je minder "
            "dan 24 uur van tevoren afzegt, telt als gehouden."),
        "confidentiality": (
            "Wat je met mij bespreekt, blijft tussen ons. Ik deel niets met anderen zonder jouw "
            "uitdrukkelijke toestemming."),
        "secrecy": (
            "Ik heb een beroepsgeheim. Die geheimhouding heeft grenzen: als er een acuut gevaar is "
            "voor jou of voor anderen, of als de wet mij verplicht iets te melden, kan ik die "
            "geheimhouding doorbreken. Ik bespreek dat dan eerst met jou als dat enigszins kan."),
        "ai_used": False,
        "ai_tools": "",
        "ai_purpose": "",
        "referral": (
            "Als je vraag buiten coaching valt, bijvoorbeeld bij psychische klachten, een crisis of "
            "een medische of juridische vraag, zeg ik dat en help ik je de juiste hulp te vinden. "
            "In een crisis kun je altijd direct terecht bij de hulplijnen hieronder."),
    },
    "en": {
        "coach_asks": (
            "I work by the EMCC and NOBCO code of ethics. I prepare our sessions, answer messages "
            "within the agreed time, ask questions rather than impose solutions, and tell you "
            "honestly when I think coaching is not (or no longer) the right help."),
        "coachee_asks": (
            "You own your question and your goals. You come prepared, try out between sessions "
            "what we agree, let me know in time when you cannot keep an appointment, and say so "
            "when the coaching does not (or no longer) help you."),
        "sponsor_asks": (
            "The sponsor makes the coaching possible (time and means), respects the "
            "confidentiality below and does not ask about the content of our conversations. What "
            "the sponsor wants to achieve, we discuss together at the start."),
        "sessions": 6,
        "rhythm": "every three weeks",
        "duration_minutes": 60,
        "end_date": None,
        "channels": ["chat", "mail", "video"],
        "practicalities": (
            "Between sessions you can write in the chat or by mail. A session cancelled less than "
            "24 hours ahead counts as held."),
        "confidentiality": (
            "What you discuss with me stays between us. I share nothing with anyone without your "
            "explicit consent."),
        "secrecy": (
            "I am bound by professional secrecy. It has limits: when there is acute danger to you "
            "or to others, or when the law obliges me to report something, I may break it. If at "
            "all possible, I discuss that with you first."),
        "ai_used": False,
        "ai_tools": "",
        "ai_purpose": "",
        "referral": (
            "When your question goes beyond coaching, for example with mental health complaints, "
            "a crisis, or a medical or legal question, I say so and help you find the right help. "
            "In a crisis you can always contact the help lines below directly."),
    },
}


def default_terms(language: str | None) -> dict[str, Any]:
    """The default template in ``language`` (Dutch for a language without its own); a copy."""
    chosen = _DEFAULTS.get(language or "nl", _DEFAULTS["nl"])
    return json.loads(json.dumps(chosen))


def merged_terms(stored: Mapping[str, Any] | None, language: str | None) -> dict[str, Any]:
    """Stored terms over the defaults: a field added to ``TERM_FIELDS`` later gets its default."""
    terms = default_terms(language)
    terms.update({k: v for k, v in (stored or {}).items() if k in TERM_FIELDS})
    return terms


def fingerprint(*, version: int, language: str, terms: Mapping[str, Any], goals: Sequence[Mapping[str, Any]],
                triangular: bool, sponsor_sees: str, sponsor_sees_goals: bool) -> str:
    """SHA-256 (hex) of a version's words in a canonical form: the same words give the
    same fingerprint on every machine."""
    canonical = json.dumps(
        {"version": version, "language": language, "terms": {k: terms.get(k) for k in TERM_FIELDS},
         "goals": [{"title": g["title"], "indicators": list(g["indicators"]), "score": g["score"]} for g in goals],
         "triangular": triangular, "sponsor_sees": sponsor_sees, "sponsor_sees_goals": sponsor_sees_goals},
        sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
