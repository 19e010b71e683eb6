"""The ``ecoach`` command."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from ecoach.logs import configure_logging
from ecoach.settings import Settings, SettingsError, load_settings

log = logging.getLogger("ecoach")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"ecoach: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings)
    try:
        return int(args.func(settings, args) or 0)
    except SettingsError as exc:  # e.g. no master key: one line naming the setting
        print(f"ecoach: {exc}", file=sys.stderr)
        return 2
    except CliError as exc:
        print(f"ecoach: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


class CliError(Exception):
    pass


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecoach", description="Self-hosted e-coaching practice")
    sub = parser.add_subparsers(metavar="command")
    serve = sub.add_parser("serve", help="run the web server")
    serve.add_argument("--demo", action="store_true", help="create demo data first and print its logins")
    serve.add_argument("--name", help="this process's name (process_name), e.g. for mail.lmtp_process")
    serve.set_defaults(func=cmd_serve)
    sub.add_parser("migrate", help="bring the database schema up to date").set_defaults(func=cmd_migrate)
    sub.add_parser("demo", help="create demo data (idempotent)").set_defaults(func=cmd_demo)

    coach = sub.add_parser("coach", help="manage coach accounts").add_subparsers(metavar="action")
    add = coach.add_parser("add", help="add a coach")
    add.add_argument("--name", required=True)
    add.add_argument("--email", required=True)
    add.add_argument("--password", help="default: $ECOACH_COACH_PASSWORD, else asked")
    add.add_argument("--language", default=None, choices=["nl", "en"])
    add.add_argument("--time-zone", default=None)
    add.add_argument("--admin", action="store_true", help="may manage coaches (the first coach always is)")
    add.set_defaults(func=cmd_coach_add)
    token = coach.add_parser("token", help="create an API token for a coach")
    token.add_argument("--email", required=True)
    token.add_argument("--name", default="api")
    token.add_argument("--scope", default="read-write", choices=["read", "read-write"])
    token.set_defaults(func=cmd_coach_token)
    from ecoach.cli_accounts import add_account_commands

    add_account_commands(coach)

    eng = sub.add_parser("engagement", help="manage engagements").add_subparsers(metavar="action")
    eadd = eng.add_parser("add", help="start an engagement and print the coachee's chat link")
    eadd.add_argument("--coach", required=True, help="the coach's e-mail address")
    eadd.add_argument("--name", required=True, help="the coachee's name")
    eadd.add_argument("--email", default="", help="the coachee's e-mail address")
    eadd.add_argument("--language", default=None, choices=["nl", "en"])
    eadd.add_argument("--time-zone", default=None)
    eadd.add_argument("--sponsor-name", default="")
    eadd.add_argument("--sponsor-email", default="")
    eadd.set_defaults(func=cmd_engagement_add)
    _add_tasks_commands(sub)
    from ecoach.cli_ops import add_ops_commands
    from ecoach.cli_quarantine import add_quarantine_commands

    add_quarantine_commands(sub)
    add_ops_commands(sub)
    from ecoach.cli_keys import add_key_commands

    add_key_commands(sub)
    return parser


def _with_db(settings: Settings, work: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run ``work(session)`` in one unit of work: it commits when ``work`` returns, and the
    events it registers reach the running servers (on PostgreSQL)."""
    from ecoach.actions.errors import ActionError
    from ecoach.actions.unit import unit_of_work
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
            async with unit_of_work(sessions) as session:
                return await work(session)
        except ActionError as exc:
            raise CliError(str(exc)) from None
        except CryptoError as exc:
            raise CliError(str(exc)) from None
        except OSError as exc:
            raise CliError(f"database {settings.database_url!r} is not reachable: {exc}") from None
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _now(settings: Settings) -> datetime:
    """Now by the clock the server uses (``[clock]`` may set another moment for tests)."""
    from ecoach.core.clock import make_clock

    return make_clock(settings.clock.start_at, runs=settings.clock.runs).now()


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    from ecoach.logbook.db import create_engine, migrate

    async def run() -> None:
        engine = create_engine(settings.database_url)
        try:
            await migrate(engine)
        finally:
            await engine.dispose()

    try:
        asyncio.run(run())
    except OSError as exc:
        raise CliError(f"database {settings.database_url!r} is not reachable: {exc}") from None
    print("database schema is up to date")
    return 0


def cmd_demo(settings: Settings, _args: argparse.Namespace) -> int:
    from ecoach.demo import ensure_demo

    info = _with_db(settings, lambda s: ensure_demo(s, settings.resolved_secret(), _now(settings)))
    print(f"Demo coach login: {settings.base_url}/login")
    print(f"  e-mail:   {info.email}")
    print(f"  password: {info.password}")
    for name, token in info.links:
        print(f"Chat link for {name}: {settings.base_url}/c/{token}")
    for name, token in info.booking:
        what = f"Booking link for {name}" if name else "Public intake page"
        print(f"{what}: {settings.base_url}/book/{token}")
    return 0


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    from aiohttp.web_runner import GracefulExit

    from ecoach.app import build_app
    from ecoach.web.connections import serve

    if args.demo:
        cmd_demo(settings, args)
    if args.name:
        settings = settings.model_copy(update={"process_name": args.name})
    app = build_app(settings)
    running = f"ecoach is running on http://{settings.host}:{settings.port}"
    if settings.log_format == "json":  # stdout and stderr often end up in one stream: JSON only
        log.info(running)
    else:
        print(f"{running} (Ctrl+C to stop)", flush=True)
    from ecoach.cli_ops import serving

    from ecoach.core.crypto import CryptoError

    with serving(settings):  # ecoach restore can tell that this server uses the database
        try:
            asyncio.run(serve(app, settings))  # web.run_app, with the connection gate
        except GracefulExit:
            pass
        except CryptoError as exc:  # a wrong or missing master key: one clear line
            raise CliError(str(exc)) from None
    return 0


def cmd_coach_add(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.coaches import do_add_coach

    password = args.password or os.environ.get("ECOACH_COACH_PASSWORD")
    if not password:
        if not sys.stdin.isatty():
            raise CliError("no password: use --password or ECOACH_COACH_PASSWORD")
        password = getpass.getpass("Password for the new coach: ")

    async def work(session):  # type: ignore[no-untyped-def]
        coach = await do_add_coach(
            session, name=args.name, email=args.email, password=password,
            language=args.language or settings.default_language,
            time_zone=args.time_zone or settings.default_time_zone, now=_now(settings),
            role="admin" if args.admin else None,
        )
        return coach

    coach = _with_db(settings, work)
    print(f"coach {coach.email} added (id {coach.id})")
    return 0


def cmd_coach_token(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.coaches import do_create_api_token
    from ecoach.logbook import queries

    async def work(session):  # type: ignore[no-untyped-def]
        coach = await queries.get_coach_by_email(session, args.email)
        if coach is None:
            raise CliError(f"no coach with e-mail {args.email}")
        token = await do_create_api_token(session, coach.id, args.name, _now(settings), scope=args.scope)
        return token

    print(_with_db(settings, work))
    return 0


def cmd_engagement_add(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.engagements import do_create_engagement
    from ecoach.logbook import queries

    async def work(session):  # type: ignore[no-untyped-def]
        coach = await queries.get_coach_by_email(session, args.coach)
        if coach is None:
            raise CliError(f"no coach with e-mail {args.coach}")
        created = await do_create_engagement(
            session, coach, coachee_name=args.name, coachee_email=args.email,
            language=args.language, time_zone=args.time_zone,
            sponsor_name=args.sponsor_name, sponsor_email=args.sponsor_email,
            now=_now(settings), link_days=settings.chat_link_days, secret=settings.resolved_secret(),
        )
        return created

    created = _with_db(settings, work)
    print(f"engagement {created.engagement.id} started for {created.coachee.name}")
    print(f"chat link: {settings.base_url}/c/{created.chat_token}")
    return 0


# --- ecoach tasks: parked and failing scheduled work -------------------------------------

TASK_STATUSES = ("failing", "parked", "pending", "running", "done", "replaced")


def _add_tasks_commands(sub: Any) -> None:
    tasks = sub.add_parser("tasks", help="inspect and retry scheduled tasks").add_subparsers(metavar="action")
    tlist = tasks.add_parser("list", help="list tasks (default: parked ones and those failing)")
    tlist.add_argument("--status", default="failing", choices=TASK_STATUSES,
                       help="failing (default): parked, or open with an error")
    tlist.add_argument("--limit", type=int, default=50)
    tlist.set_defaults(func=cmd_tasks_list)
    retry = tasks.add_parser("retry", help="run a parked task again, now, with a fresh attempt count")
    retry.add_argument("task_id", type=int)
    retry.set_defaults(func=cmd_tasks_retry)


def cmd_tasks_list(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.logbook.tasks import get_tasks

    failing = args.status == "failing"
    statuses = ("parked", "pending", "running") if failing else (args.status,)
    found = _with_db(settings, lambda session: get_tasks(session, statuses, limit=args.limit, failing=failing))
    if not found:
        print(f"no {args.status} tasks")
    for task in found:
        key = f"  key={task.key}" if task.key else ""
        print(f"{task.id}  {task.status}  {task.name}  attempts={task.attempts}  "
              f"due={task.due_at:%Y-%m-%d %H:%M:%S}Z{key}")
        if task.last_error:
            print(f"    error: {task.last_error}")
    return 0


def cmd_tasks_retry(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.logbook.tasks import TaskError, do_retry_task

    async def work(session):  # type: ignore[no-untyped-def]
        try:
            task = await do_retry_task(session, args.task_id, _now(settings))
        except TaskError as exc:
            raise CliError(str(exc)) from None
        return task

    task = _with_db(settings, work)
    print(f"task {task.id} ({task.name}) will run again now")
    return 0
