"""Crisis signals: does a coachee's message speak of suicide, self-harm, violence to others
or acute danger?

    signals = detect(text, engagement.language)
    if signals:            # flag the exchange, alert the coach, show the crisis resources
        ...

``detect`` reads only the writer's own words: quoted earlier mail (``>`` lines, "On ...
wrote:" / "Op ... schreef ...:" and everything below, Outlook headers, forwarded mail, a
``-- `` signature) is left out. It checks Dutch and English whatever the engagement's
language, because coachees mix them. Negations, the past that is over, and everyday idioms
do not fire (see ``scan.py``). The phrases live in ``lexicon/nl.toml`` and
``lexicon/en.toml``; ``explain`` shows every match with the reason it did not count,
for the coach ("why was this flagged?") and for tuning. Pure and synchronous; the cost is
linear in the text's length (see ``bench/crisis.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ecoach.core.crisis.lexicon import LANGUAGES, Category, LexiconError, has_lexicon, load
from ecoach.core.crisis.scan import Finding, findings
from ecoach.core.mail.quoting import split_own_text

__all__ = ["Category", "CrisisSignal", "Finding", "LexiconError", "detect", "explain"]

_MAX_SPANS = 20
_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")  # it becomes part of a file name


@dataclass(frozen=True)
class CrisisSignal:
    """One rule that fired: ``rule`` is ``<language>:<id>`` from the lexicon, ``kind`` is
    ``explicit`` or ``indirect``, ``language`` the lexicon's (not necessarily the
    engagement's), ``spans`` the (start, end) offsets of each match in the text given to
    ``detect`` (at most 20 per rule), ``excerpts`` the text there."""

    category: Category
    rule: str
    kind: str
    language: str
    spans: tuple[tuple[int, int], ...]
    excerpts: tuple[str, ...]


def _languages(language: str | None) -> tuple[str, ...]:
    """Dutch and English always (coachees mix them); before them the engagement's own
    language ("de", "fr-BE" -> "fr") when a lexicon for it is packaged."""
    primary = (language or "").split("-")[0].split("_")[0].lower()
    if primary in LANGUAGES or not _LANGUAGE_CODE.fullmatch(primary) or not has_lexicon(primary):
        return LANGUAGES
    return (primary, *LANGUAGES)


def explain(text: str, language: str | None = None, *, include_quoted: bool = True,
            limit: int | None = None) -> list[Finding]:
    """Every match in ``text``, in order, each with the reason it does not count (or
    ``None``); matches in quoted text are marked ``quoted``. With ``limit``, a rule is
    not looked for any more once that many of its matches counted."""
    lexicon = load(_languages(language))
    own, quoted = split_own_text(text)
    found = list(findings(lexicon, text, own, limit=limit))
    if include_quoted and quoted:
        found.extend(findings(lexicon, text, quoted, quoted=True))
        found.sort(key=lambda f: f.start)
    return found


def detect(text: str, language: str | None = None) -> list[CrisisSignal]:
    """The crisis signals in the writer's own words, one per rule that fired, in the order
    they first appear; empty when there are none. ``language`` is the engagement's."""
    by_rule: dict[str, list[Finding]] = {}
    for finding in explain(text, language, include_quoted=False, limit=_MAX_SPANS):
        if finding.suppressed is None:
            by_rule.setdefault(finding.rule.name, []).append(finding)
    signals = []
    for matches in by_rule.values():
        rule = matches[0].rule
        spans = tuple((f.start, f.end) for f in matches)
        signals.append(CrisisSignal(rule.category, rule.name, rule.kind, rule.language, spans,
                                    tuple(text[s:e] for s, e in spans)))
    return signals
