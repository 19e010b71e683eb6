"""The session structure on both databases, through the actions and the task runner: the
check-in before a session (chat and mail) and its answers with goal scores, feedback and
reviews after sessions, the close with action steps and their done state, links that are
replaced or expired, the four-supports comparison and the review decisions. Sessions are
booked relative to the clock (day(clock, n)); the tests of time rules (awkward_clock) run
at the awkward moments of conftest.AWKWARD too."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text

from ecoach.actions import form_answers, form_links, reviews, session_close
from ecoach.actions.booking import BookingContext, do_cancel, do_reschedule
from ecoach.actions.errors import ActionError
from ecoach.core.supports import ITEMS, compare
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.contract_models import Contract
from ecoach.logbook.models import Engagement
from ecoach.logbook.nudge_models import ActionStep, Nudge
from ecoach.logbook.session_models import SessionReview
from ecoach.logbook.task_models import Task
from tests.booking_support import SECRET
from tests.session_support import (
    ams, book_session, day, exchanges, forms, go, mails, practice, runner, settings, token_of,
)

MARK = "Blauwvinkmarker"


async def pending(sessions) -> dict[str, object]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        stmt = select(Task).where(Task.status == "pending", Task.key.like("session-%"))
        return {t.key: t.due_at for t in (await session.execute(stmt)).scalars()}


@pytest.mark.awkward_clock
async def test_checkin_goes_by_chat_and_mail_and_its_answers_land_in_the_timeline(
        sessions, make_coach, make_engagement, clock, engine, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url)
    p = await practice(sessions, make_coach, make_engagement, clock)
    booking = await book_session(sessions, config, p, ams(day(clock, 0), 10), clock.now())
    assert await pending(sessions) == {f"session-checkin:{booking.id}": booking.starts_at - timedelta(days=2),
                                       f"session-after:{booking.id}": booking.ends_at + timedelta(minutes=30)}
    go(clock, booking.starts_at - timedelta(days=2))
    assert await runner(sessions, config, clock).run_once() == 1
    [checkin] = await forms(sessions, kind="checkin")
    assert checkin.booking_id == booking.id and checkin.answered_at is None
    invite = (await exchanges(sessions, p.engagement.id, channel="chat"))[-1]
    url = f"http://coach.test/f/{token_of(checkin)}"
    assert invite.direction == "out" and url in invite.body_text and "check-in" in invite.body_text
    [mail] = await mails(sessions)
    assert mail.recipient == "coachee0@example.org" and url.encode() in mail.raw
    # Run again: the check-in is not sent twice.
    assert await runner(sessions, config, clock).run_once() == 0

    answers = {"stayed": f"The question about my {MARK}", "practised": "", "happened": "A calm week",
               "wish": "Prepare the Tuesday meeting", f"goal_{p.goal_ids[0]}": "6", f"goal_{p.goal_ids[1]}": "4"}
    async with sessions() as session:
        await form_answers.do_answer_form(session, token_of(checkin), answers, now=clock.now())
        await session.commit()
    [checkin] = await forms(sessions, kind="checkin")
    assert checkin.answers["fields"]["wish"] == "Prepare the Tuesday meeting"
    assert [g["score"] for g in checkin.answers["goals"]] == [6, 4, None]
    [entry] = await exchanges(sessions, p.engagement.id, channel="form")
    assert entry.direction == "in" and entry.id == checkin.exchange_id
    assert "Prepare the Tuesday meeting" in entry.body_text and "Calm when presenting to the team: 6/10" in entry.body_text
    async with sessions() as session:
        goals = await cq.get_current_goals(session, p.engagement.id)
        assert [g.score for g in goals] == [6, 4, None]
        scores = await cq.get_goal_scores(session, p.engagement.id)
        assert {(s.source, s.source_id) for s in scores} == {("check_in", checkin.id)}
        engagement = await session.get(Engagement, p.engagement.id)
        assert engagement.unread_count >= 1 and engagement.waiting_since is None  # read, no answer owed
    # The answers are stored sealed.
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT answers FROM form_request WHERE kind = 'checkin'"))).scalar_one()
    assert MARK.encode() not in bytes(raw)
    # A second submission changes nothing.
    async with sessions() as session:
        await form_answers.do_answer_form(session, token_of(checkin), {**answers, "wish": "Other"}, now=clock.now())
        await session.commit()
    assert len(await exchanges(sessions, p.engagement.id, channel="form")) == 1
    assert (await forms(sessions, kind="checkin"))[0].answers["fields"]["wish"] == "Prepare the Tuesday meeting"


@pytest.mark.awkward_clock
async def test_a_moved_session_moves_its_checkin_and_a_cancelled_one_drops_it(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url)
    p = await practice(sessions, make_coach, make_engagement, clock, goals=False)
    booking = await book_session(sessions, config, p, ams(day(clock, 3), 10), clock.now())
    context = BookingContext(config, clock.now(), SECRET)
    async with sessions() as session:
        moved = await do_reschedule(session, context, await session.get(type(booking), booking.id),
                                    ams(day(clock, 4), 11), by="coach")
        await session.commit()
    assert (await pending(sessions))[f"session-checkin:{booking.id}"] == moved.booking.starts_at - timedelta(days=2)
    # Booked inside the check-in time: the check-in is due at once.
    first = ams(day(clock, 0), 10)
    go(clock, first - timedelta(hours=20))
    soon = await book_session(sessions, config, p, first, clock.now())
    assert (await pending(sessions))[f"session-checkin:{soon.id}"] == clock.now()
    async with sessions() as session:
        await do_cancel(session, context, await session.get(type(booking), booking.id), by="coach")
        await session.commit()
    assert not any(key.endswith(f":{booking.id}") for key in await pending(sessions))


@pytest.mark.awkward_clock
async def test_feedback_after_every_session_and_a_review_after_every_fourth(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=False)
    p = await practice(sessions, make_coach, make_engagement, clock)
    booked = [await book_session(sessions, config, p, ams(day(clock, n), 10), clock.now()) for n in range(5)]
    tasks = runner(sessions, config, clock)
    for booking in booked:
        go(clock, booking.ends_at + timedelta(minutes=31))
        await tasks.run_once()
        await tasks.run_once()
    feedback = await forms(sessions, kind="feedback")
    assert [f.booking_id for f in feedback] == [b.id for b in booked]
    async with sessions() as session:
        found = list((await session.execute(select(SessionReview))).scalars())
    assert [(r.session_number, r.booking_id) for r in found] == [(4, booked[3].id)]
    notes = [x.body_text for x in await exchanges(sessions, p.engagement.id, direction="internal")]
    assert any("Time for a review: 4 sessions held" in n for n in notes)

    # The feedback form: the score is required and must be 1 to 10.
    token = token_of(feedback[0])
    async with sessions() as session:
        with pytest.raises(form_answers.FormInvalid) as refused:
            await form_answers.do_answer_form(session, token, {"helped": "x", "score": "11"}, now=clock.now())
    assert refused.value.checked.errors == {"score": "Choose a score from 1 to 10."}
    async with sessions() as session:
        await form_answers.do_answer_form(session, token, {"helped": "The drawing", "better": "", "score": "8"},
                                          now=clock.now())
        await session.commit()
    entry = (await exchanges(sessions, p.engagement.id, channel="form"))[-1]
    assert "The drawing" in entry.body_text and "8/10" in entry.body_text


@pytest.mark.awkward_clock
async def test_close_with_action_steps_that_the_coachee_ticks_off(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=False)
    p = await practice(sessions, make_coach, make_engagement, clock, goals=False)
    booking = await book_session(sessions, config, p, ams(day(clock, 0), 10), clock.now())
    steps = [session_close.StepInput("Ask Anna for feedback", day(clock, 2).isoformat()),
             session_close.StepInput("Block Friday afternoons", day(clock, 4).isoformat())]
    async with sessions() as session:
        with pytest.raises(ActionError) as early:
            await session_close.do_close_session(session, p.coach, booking.id, summary="Good talk", shared=True,
                                                 steps=steps, settings=config, now=clock.now())
    assert early.value.code == "summary_too_early"
    go(clock, booking.ends_at)
    async with sessions() as session:
        with pytest.raises(ActionError) as bad:
            await session_close.do_close_session(
                session, p.coach, booking.id, summary="Good talk", shared=True,
                steps=[steps[0], session_close.StepInput("Rest", "tomorrow")], settings=config, now=clock.now())
    assert bad.value.code == "close_step_invalid" and str(bad.value) == "Action step 2: Give a date like 2026-12-01."
    async with sessions() as session:
        close = await session_close.do_close_session(session, p.coach, booking.id, summary="We looked at limits.",
                                                     shared=True, steps=steps, settings=config, now=clock.now())
        await session.commit()
    async with sessions() as session:
        with pytest.raises(ActionError) as again:
            await session_close.do_close_session(session, p.coach, booking.id, summary="Twice", shared=False,
                                                 steps=[], settings=config, now=clock.now())
    assert again.value.code == "session_closed"
    summary = (await exchanges(sessions, p.engagement.id, id=close.exchange_id))[0]
    assert summary.direction == "out" and "We looked at limits." in summary.body_text
    async with sessions() as session:
        made = list((await session.execute(select(ActionStep).order_by(ActionStep.id))).scalars())
        assert [(s.text, s.booking_id) for s in made] == [(st.text, booking.id) for st in steps]
        engagement = await session.get(Engagement, p.engagement.id)
        step = await session_close.do_set_step_done(session, engagement, made[0].id, done=True, by="coachee",
                                                    author_name="Sanne", now=clock.now())
        await session_close.do_set_step_done(session, engagement, made[0].id, done=True, by="coachee",
                                             author_name="Sanne", now=clock.now())
        await session.commit()
    assert step.done_at == clock.now()
    ticks = await exchanges(sessions, p.engagement.id, external_id=f"action-step:{made[0].id}:done")
    assert len(ticks) == 1 and "Ask Anna for feedback" in ticks[0].body_text
    # On its date the follow-up nudge is skipped: the step is done; the other one goes.
    go(clock, clock.now() + timedelta(days=8))
    tasks = runner(sessions, config, clock)
    while await tasks.run_once():
        pass
    async with sessions() as session:
        nudges = {n.action_step_id: (n.status, n.reason) for n in (await session.execute(select(Nudge))).scalars()
                  if n.action_step_id}
    assert nudges[made[0].id] == ("skipped", "done") and nudges[made[1].id][0] == "sent"


@pytest.mark.awkward_clock
async def test_replaced_expired_and_cancelled_links_say_what_to_do(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=False, form_link_days=3)
    p = await practice(sessions, make_coach, make_engagement, clock, goals=False)
    booking = await book_session(sessions, config, p, ams(day(clock, 0), 10), clock.now())
    other = await book_session(sessions, config, p, ams(day(clock, 1), 10), clock.now())
    async with sessions() as session:
        engagement = await session.get(Engagement, p.engagement.id)
        first = await form_links.do_send_form(session, engagement, kind="evaluation", settings=config, now=clock.now())
        second = await form_links.do_send_form(session, engagement, kind="evaluation", settings=config,
                                               now=clock.now())
        checkin = await form_links.do_send_form(session, engagement, kind="checkin", booking=booking,
                                                settings=config, now=clock.now())
        cancelled = await form_links.do_send_form(session, engagement, kind="checkin", booking=other,
                                                  settings=config, now=clock.now())
        await session.commit()

    async def refusal(token: str) -> ActionError:
        async with sessions() as session:
            with pytest.raises(ActionError) as raised:
                await form_links.check_form_token(session, token, clock.now())
        return raised.value

    replaced = await refusal(first.token)
    assert (replaced.code, replaced.status, replaced.language) == ("form_link_replaced", 410, "en")
    assert "newer link" in str(replaced)
    assert (await refusal("x" * 43)).code == "form_link_unknown"
    async with sessions() as session:
        await do_cancel(session, BookingContext(config, clock.now(), SECRET),
                        await session.get(type(other), other.id), by="coachee")
        await session.commit()
    assert (await refusal(cancelled.token)).code == "form_session_cancelled"
    go(clock, booking.ends_at)
    assert (await refusal(checkin.token)).code == "form_link_expired"
    go(clock, clock.now() + timedelta(days=3))
    expired = await refusal(second.token)
    assert expired.code == "form_link_expired" and "Ask your coach" in str(expired)


async def test_four_supports_side_by_side_and_the_review_decisions(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=False)
    p = await practice(sessions, make_coach, make_engagement, clock)
    async with sessions() as session:
        engagement = await session.get(Engagement, p.engagement.id)
        sent = await form_links.do_send_form(session, engagement, kind="supports", round="start", settings=config,
                                             now=clock.now())
        await session.commit()
    theirs = {item.key: "4" for item in ITEMS} | {"nw1": "1"}
    mine = {item.key: "4" for item in ITEMS} | {"nw1": "4", "au2": "5"}
    async with sessions() as session:
        with pytest.raises(form_answers.FormInvalid) as missing:
            await form_answers.do_answer_form(session, sent.token, {**theirs, "se1": ""}, now=clock.now())
        assert missing.value.checked.errors == {"se1": "Choose one of the five answers."}
        answered = await form_answers.do_answer_form(session, sent.token, theirs, now=clock.now())
        engagement = await session.get(Engagement, p.engagement.id)
        own = await form_answers.do_answer_as_coach(session, engagement, round="start", form_data=mine,
                                                    now=clock.now())
        await session.commit()
    rows = {row.item.key: row for kind in compare(answered.answers, own.answers) for row in kind.rows}
    assert (rows["nw1"].coachee, rows["nw1"].coach, rows["nw1"].difference, rows["nw1"].differs) == (1, 4, 3, True)
    assert rows["au2"].differs is False and rows["se1"].difference == 0

    # Reviews: continue with scores, adjust (a new contract draft), round off (the forms go out).
    async with sessions() as session:
        engagement = await session.get(Engagement, p.engagement.id)
        booking = await book_session(sessions, config, p, ams(day(clock, 0), 10), clock.now())
        opened = [await reviews.do_open_review(session, engagement, booking, n, now=clock.now()) for n in (4, 8, 12)]
        assert await reviews.do_open_review(session, engagement, booking, 4, now=clock.now()) is opened[0]
        with pytest.raises(ActionError) as wrong:
            await reviews.do_decide_review(session, p.coach, engagement, opened[0].id, {"decision": "maybe"},
                                           settings=config, now=clock.now())
        assert wrong.value.code == "review_decision"
        await reviews.do_decide_review(session, p.coach, engagement, opened[0].id,
                                       {"decision": "continue", f"goal_{p.goal_ids[2]}": "7", "note": "On track"},
                                       settings=config, now=clock.now())
        with pytest.raises(ActionError) as twice:
            await reviews.do_decide_review(session, p.coach, engagement, opened[0].id, {"decision": "continue"},
                                           settings=config, now=clock.now())
        assert twice.value.code == "review_decided"
        await reviews.do_decide_review(session, p.coach, engagement, opened[1].id, {"decision": "adjust"},
                                       settings=config, now=clock.now())
        await reviews.do_decide_review(session, p.coach, engagement, opened[2].id, {"decision": "round_off"},
                                       settings=config, now=clock.now())
        await session.commit()
    async with sessions() as session:
        [scored] = [g for g in await cq.get_current_goals(session, p.engagement.id) if g.score is not None]
        assert (scored.goal_id, scored.score) == (p.goal_ids[2], 7)
        drafts = (await session.execute(select(Contract).where(Contract.status == "draft"))).scalars().all()
        assert [d.version for d in drafts] == [2]
    assert {(f.kind, f.round) for f in await forms(sessions, answered_at=None, respondent="coachee")} == {
        ("evaluation", None), ("supports", "end")}
