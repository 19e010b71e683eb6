"""The session structure at scale: what the chat page and the engagement page read of it,
the progress chart, and sending check-ins.

    .venv/bin/python bench/session_structure.py --db both [--engagements 3000]

Builds the schema through the real migrations and loads engagements the way the app
writes them (sealed under each engagement's data key): per engagement a contract with
three goals and 30 scores, eight sessions with a check-in and a feedback form each
(answered), action steps and a review. Then times, for random engagements:
- the chat page's part (open forms, goals in force, their score history);
- the engagement page's part (each session's forms and close, reviews, evaluation forms,
  goals and history);
- drawing the progress chart (3 goals x 30 scores, SVG);
and the check-in task for 300 sessions due at once (one transaction each, as the runner
runs them), as sessions per second.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, select, text

from common import bench_database, summary  # type: ignore[import-not-found]
from ecoach.actions.session_flow import do_send_checkin
from ecoach.actions.session_goals import current_goals, score_history
from ecoach.core.crypto import MasterKey, MasterKeys
from ecoach.core.progress_chart import Point, Series, render_svg
from ecoach.logbook import session_queries as sq
from ecoach.logbook.booking_models import Booking, SessionType
from ecoach.logbook.contract_models import Contract, ContractGoal, Goal, GoalScore
from ecoach.logbook.db import create_engine, migrate, session_factory
from ecoach.logbook.keyring import Keyring
from ecoach.logbook.models import Coach, Coachee, Engagement
from ecoach.logbook.nudge_models import ActionStep
from ecoach.logbook.session_models import FormRequest, SessionClose, SessionReview
from ecoach.settings import Settings

NOW = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)
COACHES = 50
SESSIONS, SCORES = 8, 30
ANSWERS = {"fields": {"stayed": "The question about energy and rest", "practised": "Saying no twice",
                      "happened": "A calm week at work", "wish": "Prepare the team meeting"},
           "goals": [{"id": 1, "title": "Calm when presenting", "score": 6}]}


async def load(sessions, count: int, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        await session.execute(insert(Coach), [dict(id=c, name=f"Coach {c}", email=f"c{c}@bench.local",
                                                   password_hash="x", language="nl", time_zone="Europe/Amsterdam",
                                                   created_at=NOW) for c in range(1, COACHES + 1)])
        await session.execute(insert(SessionType), [dict(id=c, coach_id=c, name="Coaching", duration_minutes=60,
                                                         channel="video", created_at=NOW)
                                                    for c in range(1, COACHES + 1)])
        await session.commit()
    for first in range(1, count + 1, 500):
        chunk = range(first, min(first + 500, count + 1))
        async with sessions() as session:
            for n in chunk:
                coach = 1 + n % COACHES
                session.add(Coachee(id=n, coach_id=coach, name=f"Coachee {n}", language="nl", created_at=NOW))
                session.add(Engagement(id=n, coach_id=coach, coachee_id=n, language="nl", time_zone="Europe/Amsterdam",
                                       status="active", created_at=NOW - timedelta(days=120), unread_count=0))
            await session.flush()  # the rows exist before their data keys are made
            for n in chunk:
                add_engagement(session, n)
            await session.flush()
            for n in chunk:
                add_structure(session, n, rnd)
            await session.commit()


def session_start(n: int, s: int) -> datetime:
    """Weekly sessions; a coach's engagements an hour apart (the agenda allows no overlap)."""
    return NOW - timedelta(days=7 * (SESSIONS - s)) + timedelta(hours=n // COACHES)


def add_engagement(session, n: int) -> None:  # type: ignore[no-untyped-def]
    """The rows others point at: the contract, its goals, the sessions."""
    coach = 1 + n % COACHES
    session.add(Contract(id=n, engagement_id=n, version=1, status="accepted", language="nl", terms={"rhythm": "x"},
                         created_at=NOW, updated_at=NOW))
    for g in range(3):
        session.add(Goal(id=n * 3 + g, engagement_id=n, created_at=NOW))
    for s in range(SESSIONS):
        booking = n * SESSIONS + s
        starts = session_start(n, s)
        session.add(Booking(id=booking, coach_id=coach, session_type_id=coach, engagement_id=n, status="confirmed",
                            starts_at=starts, ends_at=starts + timedelta(hours=1), busy_from=starts,
                            busy_until=starts + timedelta(hours=1), channel="video", uid=f"b{booking}@bench",
                            language="nl", attendee_name="x", attendee_time_zone="Europe/Amsterdam",
                            manage_token_hash=f"m{booking}", manage_salt="s", created_at=NOW, updated_at=NOW))


def add_structure(session, n: int, rnd: random.Random) -> None:  # type: ignore[no-untyped-def]
    """Goals as worded, their scores, and each session's forms, close and steps."""
    for g in range(3):
        goal = n * 3 + g
        session.add(ContractGoal(contract_id=n, goal_id=goal, engagement_id=n, position=g + 1,
                                 title=f"Goal {g + 1} of engagement {n}", indicators=["an indicator"], score=4))
        for s in range(SCORES // 3):
            session.add(GoalScore(engagement_id=n, goal_id=goal, contract_id=n, score=rnd.randint(1, 10),
                                  source="check_in", recorded_at=NOW - timedelta(days=100 - s * 3)))
    for s in range(SESSIONS):
        booking = n * SESSIONS + s
        starts = session_start(n, s)
        for kind in ("checkin", "feedback"):
            session.add(FormRequest(engagement_id=n, booking_id=booking, kind=kind, respondent="coachee",
                                    token_hash=f"{kind}{booking}", salt="s", created_at=starts,
                                    answered_at=starts, answers=ANSWERS))
        session.add(SessionClose(booking_id=booking, engagement_id=n, shared=True, created_at=starts))
        session.add(ActionStep(engagement_id=n, text="A step", due_on=starts.date(), created_by="coach",
                               created_at=starts, booking_id=booking))
    session.add(SessionReview(engagement_id=n, booking_id=n * SESSIONS + 3, session_number=4, created_at=NOW,
                              decided_at=NOW, decision="continue", note="On track"))


async def timed(rounds: int, work) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    return times


async def measure(url: str, count: int, rounds: int) -> None:
    engine = create_engine(url)
    await migrate(engine)
    keyring = Keyring(MasterKeys([MasterKey("bench", bytes(range(32)))]), now=lambda: NOW)
    sessions = session_factory(engine, None, keyring)
    rnd = random.Random(7)
    started = time.perf_counter()
    await load(sessions, count, rnd)
    async with engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    print(f"  loaded {count:,} engagements ({count * SESSIONS:,} sessions, {count * SESSIONS * 2:,} forms, "
          f"{count * SCORES:,} goal scores) in {time.perf_counter() - started:.1f} s")

    async def chat_part() -> None:
        async with sessions() as session:
            engagement = await session.get(Engagement, rnd.randint(1, count))
            await sq.get_open_forms(session, engagement.id, NOW)
            await score_history(session, engagement, await current_goals(session, engagement))

    async def engagement_part() -> None:
        async with sessions() as session:
            engagement = await session.get(Engagement, rnd.randint(1, count))
            ids = [engagement.id * SESSIONS + s for s in range(SESSIONS)]
            await sq.get_session_forms(session, ids)
            await sq.get_closes(session, ids)
            await sq.get_reviews(session, engagement.id)
            await sq.get_engagement_forms(session, engagement.id, ("evaluation", "supports"))
            await score_history(session, engagement, await current_goals(session, engagement))

    print(f"  chat page part:       {summary(await timed(rounds, chat_part))}")
    print(f"  engagement page part: {summary(await timed(rounds, engagement_part))}")
    async with sessions() as session:
        history = await score_history(session, await session.get(Engagement, 1))
    series = [Series(g.title, tuple(Point(s.at, s.score, s.source) for s in scores)) for g, scores in history]

    async def chart() -> None:
        render_svg(series, title="t", description="d", id_prefix="p", day=lambda d: d.date().isoformat(),
                   label=lambda p: str(p.score))

    print(f"  progress chart (3 goals x {len(series[0].points)} scores each): {summary(await timed(rounds, chart))}")
    await checkins(sessions, count)
    await engine.dispose()


async def checkins(sessions, count: int, due: int = 300) -> None:  # type: ignore[no-untyped-def]
    """``due`` upcoming sessions whose check-in is due now, sent one transaction each."""
    settings = Settings(database_url="sqlite+aiosqlite:///unused.db", secret_key="bench", public_url="http://b.test")
    ids = []
    async with sessions() as session:
        for k in range(due):
            engagement = 1 + k % count
            booking = 10_000_000 + k
            starts = NOW + timedelta(days=1, hours=2 * k)
            session.add(Booking(id=booking, coach_id=1 + engagement % COACHES, session_type_id=1 + engagement % COACHES,
                                engagement_id=engagement, status="confirmed", starts_at=starts,
                                ends_at=starts + timedelta(hours=1), busy_from=starts,
                                busy_until=starts + timedelta(hours=1), channel="video", uid=f"u{booking}",
                                language="nl", attendee_name="x", attendee_time_zone="Europe/Amsterdam",
                                manage_token_hash=f"n{booking}", manage_salt="s", created_at=NOW, updated_at=NOW))
            ids.append(booking)
        await session.commit()
    started = time.perf_counter()
    for booking in ids:
        async with sessions() as session:
            await do_send_checkin(session, booking, settings=settings, now=NOW)
            await session.commit()
    took = time.perf_counter() - started
    async with sessions() as session:
        sent = len((await session.execute(select(FormRequest.id).where(FormRequest.booking_id >= 10_000_000))).all())
    print(f"  check-ins sent: {sent} in {took:.2f} s = {sent / took:,.0f} per second "
          f"({took / sent * 1000:.1f} ms each: form, chat entry, commit)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--engagements", type=int, default=3000, help="at most 8000 (a week of hours per coach)")
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--postgres-url")
    args = parser.parse_args()
    for backend in ("sqlite", "postgresql"):
        if args.db in (backend, "both"):
            print("SQLite" if backend == "sqlite" else "PostgreSQL")
            asyncio.run(run(backend, args))


async def run(backend: str, args: argparse.Namespace) -> None:
    async with bench_database(backend, "ecoach_bench_sessions", args.postgres_url) as url:
        await measure(url, args.engagements, args.rounds)


if __name__ == "__main__":
    main()
