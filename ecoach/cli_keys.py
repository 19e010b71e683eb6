"""``ecoach keys ...`` (master keys, rotation, sealing old data) and ``ecoach erase ...``."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from ecoach.cli import CliError, _now
from ecoach.settings import Settings


def add_key_commands(sub: Any) -> None:
    keys = sub.add_parser("keys", help="master keys and encryption at rest").add_subparsers(metavar="action")
    new = keys.add_parser("new", help="make a master key: print it, or put it first in a key file")
    new.add_argument("--id", help="its id (default: random, like k1a2b3c4d)")
    new.add_argument("--file", help="put it first in this file (created readable by its owner only)")
    new.set_defaults(func=cmd_keys_new)
    keys.add_parser("status", help="master keys in use, data keys, values not yet sealed").set_defaults(
        func=cmd_keys_status)
    keys.add_parser("rotate", help="wrap every data key under the current (first) master key too; "
                                   "servers keep running").set_defaults(func=cmd_keys_rotate)
    retire = keys.add_parser("retire", help="delete the wraps under an old master key (after rotate)")
    retire.add_argument("master_id")
    retire.set_defaults(func=cmd_keys_retire)
    keys.add_parser("encrypt-existing", help="seal personal data stored before encryption (or in plaintext "
                                             "mode); servers keep running").set_defaults(func=cmd_encrypt_existing)

    erase = sub.add_parser("erase", help="erase a coachee or an engagement for good").add_subparsers(metavar="what")
    for what in ("engagement", "coachee"):
        one = erase.add_parser(what, help=f"erase this {what} (and everything of it)")
        one.add_argument("id", type=int)
        one.add_argument("--yes", action="store_true", help="do not ask to type the coachee's name")
        one.set_defaults(func=cmd_erase, what=what)


def _with_sessions(settings: Settings, work: Callable[[Any, Any], Awaitable[Any]]) -> Any:
    """Run ``work(sessions, keyring)``; it opens its own units of work (short transactions)."""
    from ecoach.actions.errors import ActionError
    from ecoach.app import check_keyring, event_bus
    from ecoach.core.crypto import CryptoError
    from ecoach.core.hub import Hub
    from ecoach.encryption import keyring_for
    from ecoach.logbook.db import create_engine, migrate, session_factory

    keyring = keyring_for(settings, lambda: _now(settings))

    async def run() -> Any:
        engine = create_engine(settings.database_url)
        try:
            if settings.auto_migrate:
                await migrate(engine)
            sessions = session_factory(engine, event_bus(settings, Hub()), keyring)
            await check_keyring(sessions, keyring)
            return await work(sessions, keyring)
        except (ActionError, CryptoError) as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"database {settings.database_url!r} is not reachable: {exc}") from None
        finally:
            await engine.dispose()

    return asyncio.run(run())


def cmd_keys_new(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.core.crypto import CryptoError, new_master_key, parse_master_keys

    try:
        key = new_master_key(args.id)
    except CryptoError as exc:
        raise CliError(str(exc)) from None
    if not args.file:
        print(key.line())
        return 0
    path = Path(args.file)
    before = path.read_text() if path.is_file() else ""
    try:
        if any(k.id == key.id for k in parse_master_keys(before, str(path))):
            raise CliError(f"{path} has a master key {key.id!r} already")
    except CryptoError as exc:
        raise CliError(str(exc)) from None
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key.line() + "\n" + before)
    print(f"master key {key.id} is the first (current) key in {path}")
    return 0


def cmd_keys_status(settings: Settings, _args: argparse.Namespace) -> int:
    from ecoach.actions.keys import get_key_status

    async def work(sessions, keyring):  # type: ignore[no-untyped-def]
        async with sessions() as session:
            return await get_key_status(session, keyring)

    status = _with_sessions(settings, work)
    if not status.configured:
        print("no master key (allow_plaintext): personal data is stored unencrypted")
    else:
        print(f"master keys configured: {', '.join(status.configured)} (current: {status.current})")
    print("data keys: " + (", ".join(f"{n} {kind}" for kind, n in sorted(status.keys_by_kind.items())) or "none"))
    for master, n in sorted(status.wraps_by_master.items()):
        print(f"  wrapped under {master}: {n}")
    if status.without_current:
        print(f"{status.without_current} data keys are not wrapped under {status.current} yet: ecoach keys rotate")
    if status.not_sealed:
        rows = ", ".join(f"{table} {n}" for table, n in sorted(status.not_sealed.items()))
        print(f"rows with values not sealed yet: {rows}: ecoach keys encrypt-existing")
    else:
        print("every stored value is sealed")
    return 0


def cmd_keys_rotate(settings: Settings, _args: argparse.Namespace) -> int:
    from ecoach.actions.keys import do_rotate

    def progress(line: str) -> None:
        print(line, flush=True)

    done = _with_sessions(settings, lambda sessions, keyring: do_rotate(sessions, keyring, _now(settings), progress))
    print(f"rotated: {done} data keys got a wrap under the current master key; older master keys can be "
          "retired (ecoach keys retire ID) once every server has the new key")
    return 0


def cmd_keys_retire(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.keys import do_retire
    from ecoach.actions.unit import unit_of_work

    async def work(sessions, keyring):  # type: ignore[no-untyped-def]
        async with unit_of_work(sessions) as session:
            return await do_retire(session, keyring, args.master_id)

    done = _with_sessions(settings, work)
    print(f"master key {args.master_id} retired ({done} wraps deleted): remove it from the configuration")
    return 0


def cmd_encrypt_existing(settings: Settings, _args: argparse.Namespace) -> int:
    from ecoach.actions.keys import do_encrypt_existing

    def progress(line: str) -> None:
        print(line, flush=True)

    done = _with_sessions(settings, lambda sessions, keyring: do_encrypt_existing(sessions, keyring, progress))
    total = sum(done.values())
    print(f"sealed {total} rows" + (f" ({', '.join(f'{t} {n}' for t, n in sorted(done.items()))})" if total else
                                    ": every stored value was sealed already"))
    return 0


def cmd_erase(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.erasure import check_erase_confirmation, do_erase_coachee, do_erase_engagement
    from ecoach.actions.unit import unit_of_work
    from ecoach.logbook.db import scrub
    from ecoach.logbook.models import Coachee, Engagement

    async def work(sessions, _keyring):  # type: ignore[no-untyped-def]
        async with unit_of_work(sessions) as session:
            model = Engagement if args.what == "engagement" else Coachee
            found = await session.get(model, args.id)
            if found is None:
                raise CliError(f"no {args.what} with id {args.id}")
            coachee = found if isinstance(found, Coachee) else await session.get(Coachee, found.coachee_id)
            if not args.yes:
                check_erase_confirmation(coachee.name, _ask_name(args.what, args.id))
            erase = do_erase_engagement if args.what == "engagement" else do_erase_coachee
            erased = await erase(session, found, by="command", coach_id=None, now=_now(settings))
        await scrub(sessions.kw["bind"])
        return erased

    erased = _with_sessions(settings, work)
    rows = sum(n for table, n in erased.counts.items() if not table.startswith("data_key"))
    print(f"{args.what} {args.id} erased: {rows} rows and {erased.counts.get('data_key', 0)} data keys "
          f"(erasure record {erased.erasure_id})")
    return 0


def _ask_name(what: str, ident: int) -> str:
    if not sys.stdin.isatty():
        raise CliError("to erase without a question, add --yes")
    return input(f"Erasing {what} {ident} cannot be undone. Type the coachee's name to confirm: ")
