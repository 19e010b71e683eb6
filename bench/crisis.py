"""Crisis signals: precision and recall on the labelled nl/en messages, and the cost.

    .venv/bin/python bench/crisis.py [--split dev|heldout|both] [--repeat 20] [--no-hostile] [--quiet]

For the development part (the lexicon was tuned on it) and the held-out part (written
separately, never used while tuning) of bench/data/crisis_*.jsonl it prints precision and
recall overall, per language (the engagement's), per kind (recall of explicit statements
separately; for the kinds that must not fire, how many did), per category, and every false
positive and negative with the rule that fired or why a match did not count. Then the cost:
per message over the data set, per kilobyte for longer mail (1 KB to 1 MB, to show it is
linear), and 1 MB hostile inputs (one word, NUL, lone surrogates, zero-width and direction
marks, a million newlines, hyphens, spelled-out letters, the same crisis sentence repeated).
Costs are CPU time of this process (``time.process_time``), so that other work on a shared
machine does not count; on an idle machine wall time is the same.
Targets (issue 9): recall >= 0.95 on explicit statements, precision >= 0.8 overall.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

from common import percentile  # type: ignore[import-not-found]

from ecoach.core.crisis import detect, explain
from ecoach.core.crisis.lexicon import load

DATA = Path(__file__).resolve().parent / "data"
SPLITS = {"dev": "crisis_dev.jsonl", "heldout": "crisis_heldout.jsonl"}
CRISIS_KINDS = ("explicit", "indirect", "third_party")


def read(split: str) -> list[dict]:  # type: ignore[type-arg]
    with open(DATA / SPLITS[split], encoding="utf-8") as source:
        return [json.loads(line) for line in source if line.strip()]


def ratio(part: int, whole: int) -> str:
    return f"{part / whole:5.3f} ({part}/{whole})" if whole else "    -"


def measure(rows: list[dict]) -> list[tuple[dict, list]]:  # type: ignore[type-arg]
    return [(row, detect(row["text"], row["language"])) for row in rows]


def scores(results: list[tuple[dict, list]]) -> tuple[int, int, int]:  # type: ignore[type-arg]
    tp = sum(1 for row, signals in results if signals and row["label"] == "crisis")
    fp = sum(1 for row, signals in results if signals and row["label"] != "crisis")
    fn = sum(1 for row, signals in results if not signals and row["label"] == "crisis")
    return tp, fp, fn


def line(name: str, results: list[tuple[dict, list]]) -> str:  # type: ignore[type-arg]
    tp, fp, fn = scores(results)
    return f"  {name:<22} precision {ratio(tp, tp + fp):<20} recall {ratio(tp, tp + fn)}"


def report(split: str, quiet: bool) -> bool:
    results = measure(read(split))
    print(f"\n== {split}: {len(results)} messages "
          f"({sum(r['label'] == 'crisis' for r, _ in results)} crisis, {sum(r['label'] != 'crisis' for r, _ in results)} none)")
    print(line("overall", results))
    for language in ("nl", "en"):
        print(line(f"language {language}", [x for x in results if x[0]["language"] == language]))
    by_kind: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    by_category: dict[str, list] = defaultdict(list)  # type: ignore[type-arg]
    for row, signals in results:
        by_kind[row["kind"]].append((row, signals))
        if row["label"] == "crisis":
            by_category[row["category"]].append((row, signals))
    for kind in CRISIS_KINDS:
        kind_results = by_kind.get(kind, [])
        print(f"  recall {kind:<15} {ratio(sum(1 for _, s in kind_results if s), len(kind_results))}")
    for kind in sorted(set(by_kind) - set(CRISIS_KINDS)):
        fired = sum(1 for _, s in by_kind[kind] if s)
        print(f"  fired on {kind:<13} {fired}/{len(by_kind[kind])}")
    for category in sorted(by_category):
        found = [(r, s) for r, s in by_category[category] if s]
        same = sum(1 for r, s in found if any(x.category.value == r["category"] for x in s))
        print(f"  recall {category:<15} {ratio(len(found), len(by_category[category]))}   same category named: {same}/{len(found)}")
    tp, fp, _ = scores(results)
    explicit = by_kind.get("explicit", [])
    explicit_recall = sum(1 for _, s in explicit if s) / max(1, len(explicit))
    precision = tp / max(1, tp + fp)
    met = explicit_recall >= 0.95 and precision >= 0.8
    print(f"  targets: explicit recall {explicit_recall:.3f} (>= 0.95), precision {precision:.3f} (>= 0.8): "
          f"{'met' if met else 'NOT MET'}")
    if not quiet:
        errors(results)
    return met


def errors(results: list[tuple[dict, list]]) -> None:  # type: ignore[type-arg]
    for row, signals in results:
        if bool(signals) == (row["label"] == "crisis"):
            continue
        flat = " ".join(row["text"].split())
        shown = flat if len(flat) <= 110 else flat[:107] + "..."
        if signals:
            why = "; ".join(f"{s.rule} {s.excerpts[0]!r}" for s in signals)
            print(f"  FP {row['id']} [{row['kind']}] {shown}\n       fired: {why}")
        else:
            found = explain(row["text"], row["language"])
            why = "; ".join(f"{f.rule.name} {row['text'][f.start:f.end]!r} {f.suppressed}" for f in found) or "no match"
            print(f"  FN {row['id']} [{row['kind']}/{row['category']}] {shown}\n       {why}")


def timing(repeat: int, hostile: bool) -> None:
    rows = read("dev") + read("heldout")
    for row in rows[:20]:
        detect(row["text"], row["language"])
    times = []
    for _ in range(repeat):
        for row in rows:
            started = time.process_time_ns()
            detect(row["text"], row["language"])
            times.append((time.process_time_ns() - started) / 1000)
    lengths = [len(r["text"]) for r in rows]
    print(f"\n== CPU time per message ({len(rows)} messages x {repeat}, {statistics.fmean(lengths):.0f} characters on average)")
    print(f"  p50 {percentile(times, 50):6.1f} us   p95 {percentile(times, 95):6.1f} us   "
          f"p99 {percentile(times, 99):6.1f} us   mean {statistics.fmean(times):6.1f} us")
    everyday = "\n\n".join(r["text"] for r in rows if r["kind"] in ("everyday", "idiom", "negated"))
    print("== CPU time for longer mail (everyday messages run together)")
    for size in (1_000, 10_000, 100_000, 1_000_000):
        text = (everyday * (size // len(everyday) + 1))[:size]
        runs = max(1, 200_000 // size)
        started = time.process_time()
        for _ in range(runs):
            detect(text, "nl")
        seconds = (time.process_time() - started) / runs
        print(f"  {size:>9,} characters  {seconds * 1000:9.2f} ms   {seconds * 1e6 / (size / 1000):6.1f} us per KB")
    if hostile:
        hostile_inputs()


def hostile_inputs() -> None:
    size = 1_000_000
    inputs = {
        "one long word": "a" * size,
        "NUL characters": "\x00" * size,
        "lone surrogates": "\ud800" * size,
        "zero-width inside words": ("zelf\u200bmoord " * (size // 10))[:size],
        "direction marks": ("\u202eik wil dood\u202c " * (size // 14))[:size],
        "newlines": "\n" * size,
        "hyphenated word": "a-" * (size // 2),
        "spelled-out letters": "k i l l " * (size // 8),
        "'> ' quoted lines": "> x\n" * (size // 4),
        "crisis sentence x80k": "ik wil dood. " * (size // 13),
        "negated sentence x60k": "ik wil niet dood. " * (size // 18),
        "gap words ('wil wil ...')": "wil " * (size // 4),
    }
    print("== 1 MB hostile inputs, CPU time (they must finish; no limit is asserted)")
    for name, text in inputs.items():
        started = time.process_time()
        signals = detect(text, "nl")
        print(f"  {name:<28} {time.process_time() - started:6.2f} s   signals: {len(signals)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("dev", "heldout", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=20, help="timing rounds over the data set")
    parser.add_argument("--no-hostile", action="store_true", help="skip the 1 MB hostile inputs")
    parser.add_argument("--quiet", action="store_true", help="do not list false positives and negatives")
    args = parser.parse_args()
    started = time.perf_counter()
    lexicon = load()
    print(f"lexicon: {len(lexicon.rules)} rules, {len(lexicon.starting)} first-word keys, "
          f"loaded and compiled in {(time.perf_counter() - started) * 1000:.0f} ms")
    met = [report(split, args.quiet) for split in (SPLITS if args.split == "both" else (args.split,))]
    timing(args.repeat, not args.no_hostile)
    sys.exit(0 if all(met) else 1)


if __name__ == "__main__":
    main()
