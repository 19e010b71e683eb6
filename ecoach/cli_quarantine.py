"""``ecoach quarantine``: held mail that no coach could be found for.

On a server with several coaches, mail from an unknown sender to a mailbox without a
``coach_email`` belongs to nobody yet. It is kept, never shown to every coach: the
administrator lists it here and hands each one to the coach it was meant for.
"""

from __future__ import annotations

import argparse
from typing import Any

from ecoach.cli import _with_db
from ecoach.settings import Settings


def add_quarantine_commands(sub: Any) -> None:
    quarantine = sub.add_parser("quarantine", help="held mail that belongs to no coach yet").add_subparsers(
        metavar="action")
    qlist = quarantine.add_parser("list", help="list held mail without a coach")
    qlist.add_argument("--limit", type=int, default=100)
    qlist.set_defaults(func=cmd_quarantine_list)
    give = quarantine.add_parser("give", help="hand a held mail to a coach (it appears on their quarantine page)")
    give.add_argument("entry_id", type=int)
    give.add_argument("--coach", required=True, help="the coach's e-mail address")
    give.set_defaults(func=cmd_quarantine_give)


def cmd_quarantine_list(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.quarantine import get_unowned

    entries = _with_db(settings, lambda session: get_unowned(session, limit=args.limit))
    if not entries:
        print("no held mail without a coach")
    for entry in entries:
        print(f"{entry.id}  {entry.received_at:%Y-%m-%d %H:%M}Z  from {entry.from_address or '(no sender)'}"
              f"  {entry.subject!r}  [{entry.reason_code}]")
    return 0


def cmd_quarantine_give(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.quarantine import do_hand_to_coach

    async def work(session):  # type: ignore[no-untyped-def]
        entry = await do_hand_to_coach(session, args.entry_id, args.coach)
        return entry

    entry = _with_db(settings, work)
    print(f"mail {entry.id} is now on the quarantine page of {args.coach}")
    return 0
