"""From found spans to one decision per span: overlaps joined, people told apart, numbers given.

Overlapping spans become one span covering both, of the kind that ranks highest (a name
inside an e-mail address goes with the address; what the coach marked wins over anything
found), so no part of either stays readable. People are clustered across all texts of an
export: "Jan", "Jan de Vries", "De Vries" and "Jans" are one person once the full name has
been seen; the engagement's known people come first and keep their place.
"""

from __future__ import annotations

from collections.abc import Sequence

from ecoach.core.pii.known import person_variants
from ecoach.core.pii.spans import PERSON, PRIORITY, Found

KNOWN_PREFIX = "known:"


def merge(text: str, found: Sequence[Found]) -> list[Found]:
    """Non-overlapping spans in text order; each overlapping cluster becomes its union."""
    merged: list[Found] = []
    cluster: list[Found] = []
    end = -1
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if cluster and f.start >= end:
            merged.append(_union(text, cluster))
            cluster = []
        cluster.append(f)
        end = max(end, f.end) if len(cluster) > 1 else f.end
    if cluster:
        merged.append(_union(text, cluster))
    return merged


def _rank(f: Found) -> tuple[bool, int, int, bool]:
    return (f.coach, PRIORITY[f.kind], f.end - f.start, f.key.startswith(KNOWN_PREFIX))


def _union(text: str, cluster: list[Found]) -> Found:
    best = max(cluster, key=_rank)
    start, end = min(f.start for f in cluster), max(f.end for f in cluster)
    if (start, end) == (best.start, best.end):
        return best
    key = best.key if best.kind == PERSON else " ".join(text[start:end].casefold().split())
    suffix = best.suffix if best.end == end else ""
    return Found(start, end, best.kind, key, suffix=suffix, coach=best.coach)


def cluster_people(found: Sequence[Found], known_aliases: dict[str, str]) -> dict[str, str]:
    """Person key -> the key of the person it names.

    ``known_aliases`` maps each folded variant of a known person to that person's key.
    Full names are placed first (so a lone "Jan" joins "Jan de Vries" even when it came
    earlier); a lone word that two people share goes to the first of them.
    """
    aliases = dict(known_aliases)
    keys = list(dict.fromkeys(f.key for f in found if f.kind == PERSON))
    resolved: dict[str, str] = {}
    for key in sorted(keys, key=lambda k: (k.startswith(KNOWN_PREFIX), " " not in k)):
        if key.startswith(KNOWN_PREFIX):
            resolved[key] = key
            continue
        target = aliases.get(key) or aliases.get(key.removesuffix("s")) or key
        resolved[key] = target
        for alias in person_variants(key):
            aliases.setdefault(alias.casefold(), target)
    return resolved


def letters(index: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: person and organisation letters."""
    label = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        label = chr(ord("A") + rest) + label
    return label


def number_in_order(spans_by_text: Sequence[Sequence[Found]], reserved: Sequence[tuple[str, str]],
                    person_of: dict[str, str]) -> dict[tuple[str, str], int]:
    """(kind, key) -> its ordinal within its kind: reserved ones (known people and
    organisations) first in the order given, then the rest by first appearance."""
    numbers: dict[tuple[str, str], int] = {}
    counts: dict[str, int] = {}
    ordered = [*reserved, *((f.kind, person_of.get(f.key, f.key) if f.kind == PERSON else f.key)
                            for spans in spans_by_text for f in spans)]
    for kind, key in ordered:
        if (kind, key) not in numbers:
            numbers[(kind, key)] = counts.get(kind, 0)
            counts[kind] = counts.get(kind, 0) + 1
    return numbers
