"""``ecoach audit verify``: check the whole audit chain, oldest entry first.

Exit code 0 when every link holds; 1 with the first broken link named (an entry changed,
missing, out of order, or cut off the end). ``--expect SEQ:HASH`` also checks that entry
SEQ still has the hash written down earlier (printed by an earlier run): a chain rewritten
from its start by someone with full write access is noticed that way.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from typing import Any

from ecoach.cli import CliError, _with_db
from ecoach.settings import Settings

ANCHOR = re.compile(r"([0-9]{1,19}):([0-9a-f]{64})")


def add_audit_commands(sub: Any) -> None:
    audit = sub.add_parser("audit", help="the audit trail").add_subparsers(metavar="action")
    verify = audit.add_parser("verify", help="check the whole hash chain of the audit trail")
    verify.add_argument("--expect", action="append", default=[], metavar="SEQ:HASH",
                        help="entry SEQ must have this hash (from an earlier run); may be repeated")
    verify.set_defaults(func=cmd_verify)


def _anchors(given: list[str]) -> list[tuple[int, str]]:
    anchors = []
    for value in given:
        match = ANCHOR.fullmatch(value.strip().lower())
        if match is None:
            raise CliError(f"--expect {value!r}: write it as SEQ:HASH, e.g. 1200:{'0' * 8}... (64 hex digits)")
        anchors.append((int(match.group(1)), match.group(2)))
    return anchors


def cmd_verify(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.logbook.audit_chain import verify_chain
    from ecoach.logbook.audit_models import AuditEntry

    anchors = _anchors(args.expect)
    started = time.perf_counter()

    async def work(session):  # type: ignore[no-untyped-def]
        verdict = await verify_chain(session)
        found = {}
        for seq, _ in anchors:
            row = await session.get(AuditEntry, seq)
            found[seq] = row.hash if row is not None else None
        return verdict, found

    verdict, found = _with_db(settings, work)
    seconds = time.perf_counter() - started
    if not verdict.ok:
        print(f"audit chain BROKEN at entry {verdict.broken_at}: {verdict.broken}", file=sys.stderr)
        print(f"the {verdict.checked:,} entries before it are intact (up to entry {verdict.last_seq})",
              file=sys.stderr)
        return 1
    for seq, expected in anchors:
        if found[seq] != expected:
            what = "does not exist" if found[seq] is None else f"has hash {found[seq]}"
            print(f"audit chain BROKEN at entry {seq}: expected hash {expected}, but the entry {what} "
                  "(the chain was rewritten)", file=sys.stderr)
            return 1
    print(f"audit chain intact: {verdict.checked:,} entries checked in {seconds:.1f} s")
    print(f"head: {verdict.last_seq}:{verdict.last_hash}  (keep this elsewhere; check it later with --expect)")
    return 0
