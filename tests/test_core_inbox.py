"""The inbox summary rule: who is waiting, since when, and how much is unread."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from ecoach.core.inbox import fold

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=timezone.utc)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_inbound_starts_the_wait_and_counts_unread() -> None:
    change = fold([("in", "chat", at(0), "coachee"), ("in", "mail", at(5), "coachee")])
    assert not change.reset
    assert change.first_waiting_at == at(0)
    assert change.unread == 2
    assert change.last_inbound_channel == "mail"


def test_an_answer_ends_the_wait() -> None:
    change = fold([("in", "chat", at(0), "coachee"), ("out", "chat", at(1), "coach")])
    assert change.reset and change.first_waiting_at is None and change.unread == 0


def test_the_wait_restarts_after_the_answer() -> None:
    change = fold([("in", "chat", at(0), "coachee"), ("out", "mail", at(1), "coach"), ("in", "chat", at(2), "coachee")])
    assert change.reset and change.first_waiting_at == at(2) and change.unread == 1


def test_notes_change_nothing() -> None:
    change = fold([("internal", "note", at(0), "coach")])
    assert not change.reset and change.first_waiting_at is None and change.unread == 0


def test_automatic_messages_are_no_answer() -> None:
    change = fold([("in", "mail", at(0), "coachee"), ("out", "chat", at(1), "system")])
    assert not change.reset and change.first_waiting_at == at(0) and change.unread == 1


def test_a_booked_session_is_unread_but_asks_no_answer() -> None:
    change = fold([("in", "video", at(0), "coachee")])
    assert not change.reset and change.first_waiting_at is None and change.unread == 1
    assert change.last_inbound_channel is None


directions = st.lists(st.sampled_from(["in", "out", "internal"]), max_size=30)


@given(directions)
def test_fold_matches_a_step_by_step_replay(run: list[str]) -> None:
    waiting, unread = None, 0
    for n, direction in enumerate(run):
        if direction == "in":
            waiting = waiting or at(n)
            unread += 1
        elif direction == "out":
            waiting, unread = None, 0
    change = fold([(d, "chat", at(n), "coach" if d == "out" else "coachee") for n, d in enumerate(run)])
    assert change.first_waiting_at == waiting
    assert change.unread == unread
    assert change.reset == ("out" in run)
