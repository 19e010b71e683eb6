"""``ecoach coach ...``: accounts from the command line, beside the browser's
administration page: list coaches, API tokens (list, revoke), deactivate, reactivate,
hand over engagements, end sessions, and turn off a coach's 2FA when the phone is lost.
"""

from __future__ import annotations

import argparse
from typing import Any

from ecoach.cli import CliError, _now, _with_db
from ecoach.settings import Settings


def add_account_commands(coach: Any) -> None:
    coach.add_parser("list", help="list coaches").set_defaults(func=cmd_coach_list)
    tokens = coach.add_parser("tokens", help="list a coach's API tokens")
    tokens.add_argument("--email", required=True)
    tokens.set_defaults(func=cmd_tokens)
    revoke = coach.add_parser("revoke-token", help="revoke an API token")
    revoke.add_argument("--email", required=True)
    revoke.add_argument("token_id", type=int)
    revoke.set_defaults(func=cmd_revoke_token)
    for name, func, text in (
        ("deactivate", cmd_deactivate, "deactivate a coach: logged out at once, no login, no API"),
        ("reactivate", cmd_reactivate, "let a deactivated coach log in again"),
        ("logout", cmd_logout, "end every login of a coach"),
        ("reset-2fa", cmd_reset_2fa, "turn off a coach's two-factor authentication (lost phone)"),
    ):
        parser = coach.add_parser(name, help=text)
        parser.add_argument("--email", required=True)
        parser.set_defaults(func=func)
    hand = coach.add_parser("hand-over", help="move a deactivated coach's engagements to another coach")
    hand.add_argument("--from", dest="source", required=True, help="the deactivated coach's e-mail address")
    hand.add_argument("--to", dest="target", required=True, help="the coach who takes over")
    hand.set_defaults(func=cmd_hand_over)


async def _coach(session: Any, email: str):  # type: ignore[no-untyped-def]
    from ecoach.logbook import queries

    coach = await queries.get_coach_by_email(session, email)
    if coach is None:
        raise CliError(f"no coach with e-mail {email}")
    return coach


def cmd_coach_list(settings: Settings, _args: argparse.Namespace) -> int:
    from ecoach.logbook.account_queries import get_coaches

    for row in _with_db(settings, get_coaches):
        c = row.coach
        state = "deactivated" if c.deactivated_at else "invited" if row.invited else "active"
        print(f"{c.id}  {c.email}  {c.name}  role={c.role}  {state}  2fa={'on' if row.has_2fa else 'off'}  "
              f"engagements={row.engagements}")
    return 0


def cmd_tokens(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.logbook.account_queries import get_api_tokens

    async def work(session):  # type: ignore[no-untyped-def]
        return await get_api_tokens(session, (await _coach(session, args.email)).id)

    found = _with_db(settings, work)
    if not found:
        print("no API tokens")
    for t in found:
        used = f"{t.last_used_at:%Y-%m-%d %H:%M}Z" if t.last_used_at else "never"
        state = f"revoked {t.revoked_at:%Y-%m-%d}" if t.revoked_at else "live"
        print(f"{t.id}  {t.name}  scope={t.scope}  created={t.created_at:%Y-%m-%d}  last_used={used}  {state}")
    return 0


def cmd_revoke_token(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.account import do_revoke_api_token

    async def work(session):  # type: ignore[no-untyped-def]
        await do_revoke_api_token(session, (await _coach(session, args.email)).id, args.token_id, now=_now(settings))

    _with_db(settings, work)
    print(f"token {args.token_id} revoked")
    return 0


def _by_email(action_name: str, done: str):  # type: ignore[no-untyped-def]
    def command(settings: Settings, args: argparse.Namespace) -> int:
        from ecoach.actions import account, auth_sessions, coach_admin

        async def work(session):  # type: ignore[no-untyped-def]
            coach, now = await _coach(session, args.email), _now(settings)
            reason = f"cli_{action_name.replace('-', '_')}"
            if action_name == "deactivate":
                await coach_admin.do_deactivate(session, None, coach.id, now=now, reason=reason)
                await auth_sessions.do_end_sessions(session, coach.id, reason=reason, now=now)  # deactivated before
            elif action_name == "reactivate":
                await coach_admin.do_reactivate(session, coach.id, now=now)
            elif action_name == "reset-2fa":
                await account.do_reset_2fa(session, coach.id, now=now, reason=reason)
            else:
                await auth_sessions.do_end_sessions(session, coach.id, reason=reason, now=now)

        _with_db(settings, work)
        print(done.format(email=args.email))
        return 0

    return command


cmd_deactivate = _by_email("deactivate", "{email} deactivated and logged out")
cmd_reactivate = _by_email("reactivate", "{email} can log in again")
cmd_logout = _by_email("logout", "every login of {email} has ended")
cmd_reset_2fa = _by_email("reset-2fa", "two-factor authentication of {email} is off; every login has ended")


def cmd_hand_over(settings: Settings, args: argparse.Namespace) -> int:
    from ecoach.actions.coach_admin import do_hand_over

    async def work(session):  # type: ignore[no-untyped-def]
        source, target = await _coach(session, args.source), await _coach(session, args.target)
        return await do_hand_over(session, source.id, target.id, now=_now(settings))

    print(f"{_with_db(settings, work)} engagement(s) handed to {args.target}")
    return 0
