"""The pure nudge rules: cadence across DST, quiet hours, one a day, pause tokens, templates."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings, strategies as st

from ecoach.core.nudge_rules import (
    INTERVAL,
    Cadence,
    PauseTokenError,
    QuietHours,
    TemplateProblem,
    check_template,
    make_pause_token,
    next_day,
    occurrences,
    out_of_quiet_hours,
    read_pause_token,
    render_template,
    same_local_day,
)

AMS = ZoneInfo("Europe/Amsterdam")
UTC = timezone.utc
QUIET = QuietHours(time(21, 0), time(8, 0))


def at(*args: int, zone: ZoneInfo | timezone = UTC) -> datetime:
    return datetime(*args, tzinfo=zone)


def test_weekly_cadence_keeps_the_local_time_across_both_dst_switches() -> None:
    monday_nine = Cadence(weekdays=(0,), at=time(9, 0))
    spring = occurrences(monday_nine, AMS, at(2027, 3, 20), 2)
    assert [d for d, _ in spring] == [date(2027, 3, 22), date(2027, 3, 29)]
    assert [u.hour for _, u in spring] == [8, 7]  # 09:00 CET, then 09:00 CEST
    autumn = occurrences(monday_nine, AMS, at(2026, 10, 15), 2)
    assert [u.hour for _, u in autumn] == [7, 8]
    assert all(u.astimezone(AMS).time() == time(9, 0) for _, u in spring + autumn)


def test_a_time_skipped_by_dst_comes_an_hour_later_and_every_day_still_gets_one() -> None:
    daily = Cadence(kind=INTERVAL, every_days=1, at=time(2, 30), start=date(2027, 3, 27))
    found = occurrences(daily, AMS, at(2027, 3, 27), 3)
    assert [d for d, _ in found] == [date(2027, 3, 27), date(2027, 3, 28), date(2027, 3, 29)]
    assert [u.astimezone(AMS).strftime("%H:%M") for _, u in found] == ["02:30", "03:30", "02:30"]


def test_interval_cadence_counts_from_its_start_and_several_weekdays() -> None:
    every_three = Cadence(kind=INTERVAL, every_days=3, at=time(10, 0), start=date(2026, 11, 20))
    assert [d for d, _ in occurrences(every_three, AMS, at(2026, 11, 25), 3)] == [
        date(2026, 11, 26), date(2026, 11, 29), date(2026, 12, 2)]
    mon_thu = Cadence(weekdays=(0, 3), at=time(9, 0))
    # Wednesday 25 November, 10:00 local: Thursday, Monday, Thursday.
    assert [d for d, _ in occurrences(mon_thu, AMS, at(2026, 11, 25, 9), 3)] == [
        date(2026, 11, 26), date(2026, 11, 30), date(2026, 12, 3)]
    # Strictly after: the occurrence at this very moment is not "next".
    assert occurrences(mon_thu, AMS, at(2026, 11, 26, 8), 1)[0][0] == date(2026, 11, 30)
    assert occurrences(Cadence(weekdays=()), AMS, at(2026, 11, 25), 3) == []


def test_quiet_hours_move_a_nudge_to_the_morning_in_the_coachees_zone() -> None:
    evening = at(2026, 11, 25, 21, 30, zone=AMS)
    assert out_of_quiet_hours(evening, AMS, QUIET) == at(2026, 11, 26, 8, 0, zone=AMS)
    early = at(2026, 11, 26, 6, 0, zone=AMS)
    assert out_of_quiet_hours(early, AMS, QUIET) == at(2026, 11, 26, 8, 0, zone=AMS)
    day = at(2026, 11, 26, 12, 0, zone=AMS)
    assert out_of_quiet_hours(day, AMS, QUIET) == day
    assert out_of_quiet_hours(at(2026, 11, 26, 8, 0, zone=AMS), AMS, QUIET) == at(2026, 11, 26, 8, 0, zone=AMS)
    # The same UTC moment is day in Amsterdam and night in Auckland.
    auckland = ZoneInfo("Pacific/Auckland")
    moment = at(2026, 11, 26, 11, 0)
    assert out_of_quiet_hours(moment, AMS, QUIET) == moment
    assert out_of_quiet_hours(moment, auckland, QUIET).astimezone(auckland).hour == 8
    # Equal start and end: no night at all.
    assert out_of_quiet_hours(evening, AMS, QuietHours(time(0, 0), time(0, 0))) == evening


def test_one_a_day_is_counted_in_the_coachees_local_day() -> None:
    late = at(2026, 11, 25, 22, 30)  # 23:30 in Amsterdam, Wednesday
    after_midnight = at(2026, 11, 25, 23, 30)  # 00:30 Thursday in Amsterdam
    assert not same_local_day(late, after_midnight, AMS)
    assert same_local_day(late, after_midnight, timezone.utc)
    assert not same_local_day(None, late, AMS)
    assert next_day(at(2026, 11, 25, 9, 0, zone=AMS), AMS, QUIET) == at(2026, 11, 26, 9, 0, zone=AMS)
    assert next_day(at(2026, 11, 25, 22, 0, zone=AMS), AMS, QUIET) == at(2026, 11, 27, 8, 0, zone=AMS)


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
       st.sampled_from(["Europe/Amsterdam", "America/New_York", "Pacific/Auckland", "Asia/Kolkata"]),
       st.times(), st.times())
def test_out_of_quiet_hours_is_never_earlier_and_never_at_night(moment, zone_name, start, end) -> None:
    zone, quiet = ZoneInfo(zone_name), QuietHours(start.replace(second=0, microsecond=0),
                                                  end.replace(second=0, microsecond=0))
    moved = out_of_quiet_hours(moment, zone, quiet)
    assert moved >= moment
    assert moved - moment <= timedelta(hours=25)
    if moved == moment:
        assert not quiet.contains(moment.astimezone(zone).time().replace(tzinfo=None))
    else:  # at the end of the night (an hour later when DST skipped that wall time)
        wall = moved.astimezone(zone).replace(tzinfo=None)
        end = datetime.combine(wall.date(), quiet.end)
        assert wall in (end, end + timedelta(hours=1), end + timedelta(minutes=30))


@settings(max_examples=100, deadline=None)
@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2035, 1, 1), timezones=st.just(UTC)),
       st.lists(st.integers(0, 6), min_size=1, max_size=7), st.integers(0, 23), st.integers(0, 59))
def test_weekly_occurrences_are_increasing_on_the_chosen_days(after, days, hour, minute) -> None:
    cadence = Cadence(weekdays=tuple(days), at=time(hour, minute))
    found = occurrences(cadence, AMS, after, 5)
    assert len(found) == 5
    assert all(a > after for _, a in found)
    assert [a for _, a in found] == sorted({a for _, a in found})
    assert all(d.weekday() in days and a.astimezone(AMS).date() == d for d, a in found)


def test_pause_token_round_trip_tampering_and_expiry() -> None:
    issued = at(2026, 11, 25, 9)
    token = make_pause_token("secret", 42, issued)
    assert read_pause_token("secret", token, issued + timedelta(days=10), 180) == 42
    engagement, stamp, tag = token.split(".")
    for bad in (f"43.{stamp}.{tag}", f"{engagement}.{stamp}.{tag[:-1]}A", f"{engagement}.zz.{tag}",
                token + "x", "", "...", "42"):
        with pytest.raises(PauseTokenError) as caught:
            read_pause_token("secret", bad, issued, 180)
        assert caught.value.reason == "invalid"
    with pytest.raises(PauseTokenError):
        read_pause_token("another secret", token, issued, 180)
    with pytest.raises(PauseTokenError) as expired:
        read_pause_token("secret", token, issued + timedelta(days=181), 180)
    assert (expired.value.reason, expired.value.engagement_id) == ("expired", 42)
    assert read_pause_token("secret", token, issued + timedelta(days=5000), 0) == 42  # 0: never expires
    assert make_pause_token("secret", 42, issued) != make_pause_token("secret", 43, issued)


def test_templates_know_their_variables_and_are_sandboxed() -> None:
    text = check_template("Hoi {{ coachee }},\r\n{% if goal %}Doel: {{ goal }}{% endif %}  ")
    assert render_template(text, {"coachee": "Sanne", "goal": ""}) == "Hoi Sanne,"
    assert render_template(text, {"coachee": "Sanne", "goal": "rust"}) == "Hoi Sanne,\nDoel: rust"
    with pytest.raises(TemplateProblem) as unknown:
        check_template("Hi {{ name }} and {{ coach }} and {{ zzz }}")
    assert (unknown.value.kind, unknown.value.detail) == ("unknown", "name, zzz")
    for bad in ("Hi {{ coachee", "{% for %}", "{{ coachee.__class__.__mro__ }}", "{{ coachee.upper.__globals__ }}"):
        with pytest.raises(TemplateProblem) as caught:
            check_template(bad)
        assert caught.value.kind == "syntax"
    with pytest.raises(TemplateProblem):
        check_template("   ")
    with pytest.raises(TemplateProblem):
        check_template("x" * 5000)
