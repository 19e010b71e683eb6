"""The pseudonymiser behind the anonymised export: how much it finds, and how fast.

    .venv/bin/python bench/pseudonymise.py [--verbose] [--repeat 20]

Quality: recall and precision per kind on the labelled nl/en set (tests/pseudonymise_set.py),
each language as one export with its engagement's known people. A gold span is recalled when
the replacements cover all of it ("as kind": by a replacement of its own kind, so the
pseudonym says the right thing, e.g. "Organisatie A" rather than "Persoon C"); a replacement
is correct when it overlaps a gold span, so precision counts the ordinary words it hid.
"held-out" is the part of the set written last and never tuned on. Speed: texts per second
for an export of the whole set (144 texts) and of 2,000 texts, and for one 1 MB text.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ecoach.core.pseudonymise import pseudonymise  # noqa: E402
from tests.pseudonymise_set import Score, cases, held_out, people, score  # noqa: E402


def quality(labelled, verbose: bool) -> dict[str, Score]:  # type: ignore[no-untyped-def]
    scores: dict[str, Score] = {}
    misses: list[str] = []
    extras: list[str] = []
    for language in ("nl", "en"):
        part = [c for c in labelled if c.language == language]
        known, organisations = people(language)
        result = pseudonymise([c.text for c in part], language=language, people=known,
                              organisations=organisations)
        for i, case in enumerate(part):
            score(case, [(r.start, r.end, r.kind) for r in result.in_text(i)], scores, misses, extras)
    if verbose:
        print("\n".join(["  missed: " + m for m in misses] + ["  extra:  " + e for e in extras]))
    return scores


def print_scores(title: str, scores: dict[str, Score], texts: int) -> None:
    print(f"\n{title} ({texts} texts)")
    print(f"  {'kind':<14}{'gold':>6}{'recall':>9}{'as kind':>9}{'replaced':>10}{'precision':>11}")
    fields = ("gold", "recalled", "predicted", "correct", "same_kind")
    total = Score(*(sum(getattr(s, f) for s in scores.values()) for f in fields))
    for kind, s in [*sorted(scores.items()), ("all", total)]:
        as_kind = f"{s.same_kind / s.gold:.2f}" if s.gold else "-"
        print(f"  {kind:<14}{s.gold:>6}{s.recall:>9.2f}{as_kind:>9}{s.predicted:>10}{s.precision:>11.2f}")


def speed(repeat: int) -> None:
    labelled = cases()
    texts = [c.text for c in labelled]
    known, organisations = people("nl")
    pseudonymise(texts[:1], people=known)  # word lists and catalogues load once
    print()
    for label, batch, rounds in (("one export of the set", texts, repeat),
                                 ("one export of 2,000 texts", texts * (2000 // len(texts) + 1), 1)):
        batch = batch[:2000] if len(batch) > 2000 else batch
        started = time.perf_counter()
        for _ in range(rounds):
            pseudonymise(batch, people=known, organisations=organisations)
        elapsed = time.perf_counter() - started
        chars = sum(map(len, batch)) * rounds
        print(f"  {label:<28} {len(batch) * rounds / elapsed:8.0f} texts/s   {chars / elapsed / 1e6:5.2f} MB/s")
    big = " ".join(texts)
    big = (big * (1_000_000 // len(big) + 1))[:1_000_000]
    started = time.perf_counter()
    pseudonymise([big], people=known, organisations=organisations)
    print(f"  {'one text of 1 MB':<28} {time.perf_counter() - started:8.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="list every miss and every extra")
    parser.add_argument("--repeat", type=int, default=20, help="rounds over the set for the speed figure")
    args = parser.parse_args()
    labelled, later = cases(), held_out()
    print_scores("whole set", quality(labelled, args.verbose), len(labelled))
    print_scores("held-out part", quality(later, args.verbose), len(later))
    speed(args.repeat)


if __name__ == "__main__":
    main()
