"""The crisis lexicon: curated phrases per language in ``lexicon/<language>.toml``, compiled
once per process into one regular expression per rule (see ``dispatch.py`` for which rules
are tried at a word).

Each file has ``[macros]`` (named pattern pieces), ``[scope]`` (the words and phrases that
cancel a match: negation, the past that is over, a joke) and lists of ``[[rule]]`` (a
category, a kind and its patterns) and ``[[idiom]]`` (phrases that look like crisis
language but are not, such as "ik ga dood van het lachen"). Patterns are written against
the canonical words of ``text.py``, one space between words, and may use:

- ``(a|b)``, ``(a )?`` and character classes, as in a regular expression;
- ``{NAME}`` for a macro of the same file, ``{gap:N}`` for up to N words of any kind
  (``N`` <= 6), ``{end}`` for "the clause ends here" (allowing a few filler words).

Unbounded repetition (``*``, ``+``, ``{n,}``) is refused when the lexicon loads: every
pattern matches at most a fixed number of characters, so a scan costs at most a constant
per position, and no text can make the matching backtrack without end.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cache
from importlib import resources

from ecoach.core.crisis.dispatch import ANYWHERE, first_keys

LANGUAGES = ("nl", "en")
_WORD = r"[^ .]{1,40}"
_MACRO = re.compile(r"\{([A-Za-z_]+)\}")
_GAP = re.compile(r"\s*\{gap:(\d)\}\s*")
_LETTERS = re.compile(r"[a-z]{2,}")
_UNBOUNDED = re.compile(r"(?<!\\)[*+]|\{\d*,\}")
_FILLERS = ("echt|waar|echt waar|serieus|gewoon|gwn|ofzo|hoor|nu|meer|zijn|gaan|eigenlijk|tbh|honestly|really|"
            "now|lol|idk|anymore|en|maar|want|and|but|so|because")
_END = rf"(?= (?:(?:{_FILLERS}) ){{0,3}}(?:[^\w ]{{1,4}} |$))"


class LexiconError(ValueError):
    """A lexicon file that cannot be used, with the file, the rule and the reason."""


class Category(StrEnum):
    SUICIDAL = "suicidal"
    SELF_HARM = "self_harm"
    VIOLENCE = "violence"
    DANGER = "danger"


@dataclass(frozen=True)
class Rule:
    """One group of phrases: ``name`` is ``<language>:<id>``; ``regex`` matches any of
    them at a word; ``gaps`` names its groups that matched free words (where a negation
    may hide); ``cancelled_by`` names [scope] lists that cancel it nearby."""

    name: str
    category: Category
    kind: str
    language: str
    regex: re.Pattern[str]
    gaps: tuple[str, ...]
    cancelled_by: tuple[str, ...]


@dataclass(frozen=True)
class Scope:
    """Word sets and phrase regexes that decide whether a match counts: ``contexts`` are
    the phrase lists a rule can name in ``cancelled_by`` (``joke``, ``accident``)."""

    negation: frozenset[str]
    breakers: dict[str, frozenset[str]]  # by language: Dutch "of" and "want" are English words
    carry: frozenset[str]  # a comma before one of these does not end the reach ("never, ever")
    denial_after: re.Pattern[str]
    past: re.Pattern[str]
    recent: re.Pattern[str]
    contexts: dict[str, re.Pattern[str]]


@dataclass(frozen=True)
class Lexicon:
    """``starting[key]``: the rules that can match at a word beginning with ``key`` (its
    first three characters, see ``dispatch.py``); ``anywhere``: rules tried at every word."""

    rules: tuple[Rule, ...]
    starting: dict[str, tuple[Rule, ...]]
    anywhere: tuple[Rule, ...]
    idioms: re.Pattern[str]
    idiom_names: dict[str, str]  # by regex group name
    scope: Scope
    vocabulary: frozenset[str]  # the letter runs of every rule, to read "diiie" as "die"


def _expand(pattern: str, macros: dict[str, str], where: str, gap_prefix: str | None = None) -> tuple[str, list[str]]:
    gaps: list[str] = []

    def gap(match: re.Match[str]) -> str:
        count = int(match.group(1))
        if not 1 <= count <= 6:
            raise LexiconError(f"{where}: {{gap:{count}}} must be 1 to 6 words")
        body = f"(?:{_WORD} ){{0,{count}}}"
        if gap_prefix is None:
            return f" {body}"
        gaps.append(f"{gap_prefix}{len(gaps)}")
        return f" (?P<{gaps[-1]}>{body})"

    def macro(match: re.Match[str]) -> str:
        name = match.group(1)
        if name == "end":
            return _END
        if name not in macros:
            raise LexiconError(f"{where}: unknown macro {{{name}}}")
        return f"(?:{macros[name]})"

    if _UNBOUNDED.search(pattern) or any(_UNBOUNDED.search(m) for m in macros.values()):
        raise LexiconError(f"{where}: unbounded repetition (*, +, {{n,}}) is not allowed: {pattern!r}")
    expanded = _GAP.sub(gap, pattern.strip())
    for _ in range(3):  # macros may use macros, three deep
        expanded = _MACRO.sub(macro, expanded)
    if _MACRO.search(expanded):
        raise LexiconError(f"{where}: macros nested too deep: {pattern!r}")
    try:
        re.compile(expanded)
    except re.error as error:
        raise LexiconError(f"{where}: {error}: {pattern!r}") from None
    return expanded, gaps


def _words(alternatives: list[str]) -> re.Pattern[str]:
    """One regex for whole-word alternatives of the canonical line."""
    body = "|".join(f"(?:{a})" for a in alternatives) or "(?!)"
    return re.compile(rf"(?<= )(?:{body})(?= )")


@cache
def has_lexicon(language: str) -> bool:
    return resources.files(__package__).joinpath("lexicon", f"{language}.toml").is_file()


def _read(language: str) -> str:
    source = resources.files(__package__).joinpath("lexicon", f"{language}.toml")
    try:
        return source.read_text(encoding="utf-8")
    except OSError as error:
        raise LexiconError(f"lexicon/{language}.toml: {error}") from None


def load(languages: tuple[str, ...] = LANGUAGES) -> Lexicon:
    """The packaged lexicons of these languages, compiled into one (once per process)."""
    # Cached by the languages themselves: ``load()`` and ``load(("nl", "en"))`` are one
    # lexicon (a cache on ``load`` would compile it twice, the second time on the chat's
    # first message, holding up the event loop).
    return _compiled(tuple(languages))


@cache
def _compiled(languages: tuple[str, ...]) -> Lexicon:
    return build({language: _read(language) for language in languages})


@dataclass
class _Parts:
    rules: list[Rule] = field(default_factory=list)
    idioms: list[str] = field(default_factory=list)
    idiom_names: dict[str, str] = field(default_factory=dict)
    negation: set[str] = field(default_factory=set)
    breakers: dict[str, frozenset[str]] = field(default_factory=dict)
    carry: set[str] = field(default_factory=set)
    phrases: dict[str, list[str]] = field(default_factory=dict)


def build(sources: dict[str, str]) -> Lexicon:
    """One lexicon from the TOML text of each language; a clear LexiconError when a file
    cannot be used."""
    parts = _Parts()
    for language, text in sources.items():
        try:
            _add(parts, language, tomllib.loads(text))
        except tomllib.TOMLDecodeError as error:
            raise LexiconError(f"lexicon/{language}.toml: {error}") from None
        except (KeyError, TypeError, AttributeError) as error:
            raise LexiconError(f"lexicon/{language}.toml: missing or malformed entry: {error}") from None
    compiled = {key: _words(values) for key, values in parts.phrases.items()}
    none = _words([])
    scope = Scope(frozenset(parts.negation), parts.breakers, frozenset(parts.carry), compiled.pop("denial_after", none),
                  compiled.pop("past", none), compiled.pop("recent", none), compiled)
    starting: dict[str, list[Rule]] = {}
    anywhere: list[Rule] = []
    for rule in parts.rules:
        for name in rule.cancelled_by:
            if name not in scope.contexts:
                raise LexiconError(f"{rule.name}: cancelled_by names no [scope] list: {name!r}")
        keys = first_keys(rule.regex.pattern)
        if keys is ANYWHERE:
            anywhere.append(rule)
        for key in keys or ():
            starting.setdefault(key, []).append(rule)
    vocabulary = frozenset(word for rule in parts.rules for word in _LETTERS.findall(rule.regex.pattern))
    return Lexicon(tuple(parts.rules), {k: tuple(v) for k, v in starting.items()}, tuple(anywhere),
                   _words(parts.idioms), parts.idiom_names, scope, vocabulary)


def _add(parts: _Parts, language: str, data: dict) -> None:  # type: ignore[type-arg]
    macros = {name: str(value) for name, value in data.get("macros", {}).items()}
    scope = dict(data.get("scope", {}))
    parts.negation.update(scope.pop("negation", []))
    parts.breakers[language] = frozenset(scope.pop("breakers", []))
    parts.carry.update(scope.pop("carry", []))
    for key, values in scope.items():
        parts.phrases.setdefault(key, []).extend(_expand(v, macros, f"{language}:scope.{key}")[0] for v in values)
    parts.rules.extend(_rule(entry, language, macros) for entry in data.get("rule", []))
    for entry in data.get("idiom", []):
        group = f"i{len(parts.idiom_names)}"
        parts.idiom_names[group] = f"{language}:{entry['id']}"
        body = "|".join(_expand(p, macros, parts.idiom_names[group])[0] for p in entry["patterns"])
        parts.idioms.append(f"(?P<{group}>{body})")


def _rule(entry: dict, language: str, macros: dict[str, str]) -> Rule:  # type: ignore[type-arg]
    name = f"{language}:{entry['id']}"
    patterns = [_expand(p, macros, name, gap_prefix=f"g{k}_") for k, p in enumerate(entry["patterns"])]
    try:
        category = Category(entry["category"])
    except ValueError:
        raise LexiconError(f"{name}: unknown category {entry['category']!r}") from None
    kind = entry.get("kind", "explicit")
    if kind not in ("explicit", "indirect"):
        raise LexiconError(f"{name}: kind must be explicit or indirect, not {kind!r}")
    return Rule(name, category, kind, language, _words([p for p, _ in patterns]),
                tuple(g for _, gaps in patterns for g in gaps), tuple(entry.get("cancelled_by", ())))
