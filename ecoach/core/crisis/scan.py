"""Matching the lexicon against a text and deciding which matches count.

A match does not count when, within its sentence,
- an idiom covers it ("ik ga dood van het lachen", "this deadline is killing me");
- a negation governs it: a negation word among the free words inside the match, or up to
  six words before it with nothing in between that ends the negation's reach (a comma,
  "maar", "but", "why", ...): "I'd never hurt myself", "ik denk er niet aan om er een eind
  aan te maken", "no longer have thoughts of ending my life" — while "I don't know why I
  want to die" and "I no longer want to live" still count; or a denial follows it
  ("suicide is not something I'd consider", "zelfmoord is nooit een optie geweest");
- it tells of a past that is over ("toen ik zestien was", "I used to", "years ago") and
  nothing in the sentence says it is back ("weer", "again", "last night");
- a context the rule names in ``cancelled_by`` is near: a joke marker ("haha", "lol", a
  laughing emoji) for threats to others ("als hij nog één keer boort, vermoord ik hem
  😅"), an accident for self-harm words ("cut myself shaving", "per ongeluk").
Every check looks at a fixed number of words around the match.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from ecoach.core.crisis.lexicon import Category, Lexicon, Rule
from ecoach.core.crisis.text import Words, words

_NEGATION_REACH = 6
_IDIOM_REACH = 8
_CONTEXT_REACH = 20
_CLAUSE_ENDS = frozenset({",", ":", ";", "-"})


@dataclass(frozen=True)
class Finding:
    """One match of one rule: where it is in the original text (``start``, ``end``), and
    why it does not count (``suppressed``: ``idiom:<rule>``, ``negated``, ``past``,
    ``quoted``, or the name of a cancelling context such as ``joke``), or ``None`` when it does."""

    rule: Rule
    start: int
    end: int
    suppressed: str | None

    @property
    def category(self) -> Category:
        return self.rule.category


def _line_end(w: Words, k: int) -> int:
    """Where word k-1 and the space after it end in ``w.line``."""
    return w.at[k] if k < len(w.at) else len(w.line)


def _idiom(lexicon: Lexicon, w: Words, sentence: tuple[int, int], first: int, last: int) -> str | None:
    lo, hi = max(sentence[0], first - _IDIOM_REACH), min(sentence[1], last + _IDIOM_REACH)
    start, end = w.at[first], _line_end(w, last) - 1
    for match in lexicon.idioms.finditer(w.line, w.at[lo] - 1, _line_end(w, hi)):
        if match.start() < end and match.end() > start:
            return f"idiom:{lexicon.idiom_names[match.lastgroup or '']}"
    return None


def _negated(lexicon: Lexicon, w: Words, match: re.Match[str], rule: Rule, lo: int, first: int, last: int) -> bool:
    scope = lexicon.scope
    for group in rule.gaps:
        free = match.group(group)
        if free and any(word in scope.negation for word in free.split()):
            return True
    k = first - 1
    while k >= max(lo, first - _NEGATION_REACH):
        word = w.tokens[k]
        if word in scope.breakers[rule.language] and not (
                w.tokens[k + 1] in scope.carry or (k > lo and w.tokens[k - 1] in scope.carry)):
            break
        if word in scope.negation:
            return True
        k -= 1
    return bool(last < len(w.tokens) and scope.denial_after.match(w.line, w.at[last]))


def _context(pattern: re.Pattern[str], w: Words, lo: int, hi: int) -> bool:
    """Whether one of the phrases occurs among words [lo, hi)."""
    return lo < hi and bool(pattern.search(w.line, w.at[lo] - 1, _line_end(w, hi)))


def _clause_end(w: Words, last: int, hi: int) -> int:
    k = last
    while k < hi and w.tokens[k] not in _CLAUSE_ENDS:
        k += 1
    return k


def _suppressed(lexicon: Lexicon, w: Words, match: re.Match[str], rule: Rule, first: int, last: int) -> str | None:
    sentence = w.sentence(first, last)
    idiom = _idiom(lexicon, w, sentence, first, last)
    if idiom:
        return idiom
    if _negated(lexicon, w, match, rule, sentence[0], first, last):
        return "negated"
    scope = lexicon.scope
    lo, hi = max(sentence[0], first - _CONTEXT_REACH), min(sentence[1], last + _CONTEXT_REACH)
    # The past reaches back over the whole sentence but forward only to the end of the
    # clause: "toen ik 16 was, heb ik ..." is history, "I want to die, I used to be happy" is not.
    if (_context(scope.past, w, lo, _clause_end(w, last, hi)) and not _context(scope.recent, w, lo, hi)):
        return "past"
    for name in rule.cancelled_by:
        if _context(scope.contexts[name], w, lo, hi):
            return name
    return None


def findings(lexicon: Lexicon, text: str, spans: list[tuple[int, int]], quoted: bool = False,
             limit: int | None = None) -> Iterator[Finding]:
    """Every match of every rule in the given spans of ``text``, in order of where they
    begin; a rule is no longer tried once ``limit`` of its matches counted. At each word
    only the rules that can begin there are tried."""
    w = words(text, spans, lexicon.vocabulary)
    reach: dict[str, int] = {}  # how far each rule's last match went
    counted: dict[str, int] = {}
    line = w.line
    starting = lexicon.starting
    for first, word in enumerate(w.tokens):
        candidates = starting.get(word[:3] if len(word) >= 3 else word + " ", ())  # dispatch.word_key, inlined
        if not candidates and not lexicon.anywhere:
            continue
        at = w.at[first]
        for rule in candidates + lexicon.anywhere if lexicon.anywhere else candidates:
            match = rule.regex.match(line, at)
            if match is None:
                continue
            last = w.token_at(match.end() - 1) + 1
            if reach.get(rule.name, -1) >= last or (limit is not None and counted.get(rule.name, 0) >= limit):
                continue  # the tail of the same rule's previous match ("einde aan" in "een einde aan")
            reach[rule.name] = last
            reason = "quoted" if quoted else _suppressed(lexicon, w, match, rule, first, last)
            if reason is None:
                counted[rule.name] = counted.get(rule.name, 0) + 1
            yield Finding(rule, w.start[first], w.end[last - 1], reason)
