"""The session structure through the web, in-process on both databases: the coachee's
form pages (bad input, thanks, replaced and expired links) in the engagement's language,
ticking an action step and giving scores on the chat page, the coach's session page
(close with action steps), the coaching panel with the progress chart, the review, the
four-supports pages, and other coaches kept out. Sessions are booked relative to the clock
(day(clock, n)); their time rules run at the awkward moments in tests/test_sessions.py."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from ecoach.actions import form_links
from ecoach.core.supports import ITEMS
from ecoach.logbook.models import Engagement
from ecoach.logbook.nudge_models import ActionStep
from tests.session_support import ams, book_session, day, exchanges, forms, go, practice, runner, settings, token_of
from tests.support import PASSWORD, app_client, csrf_of, login


async def test_coachee_answers_a_checkin_with_clear_messages_on_bad_input(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=False)
    p = await practice(sessions, make_coach, make_engagement, clock, language="nl")
    booking = await book_session(sessions, config, p, ams(day(clock, 0), 10), clock.now())
    go(clock, booking.starts_at - timedelta(days=2))
    await runner(sessions, config, clock).run_once()
    [checkin] = await forms(sessions, kind="checkin")
    path = f"/f/{token_of(checkin)}"
    async with app_client(config, clock) as client:
        page = await client.get(path, headers={"Accept-Language": "en"})
        text = await page.text()
        assert page.status == 200 and page.headers["Content-Language"] == "nl"
        assert "Wat wil je uit deze sessie halen?" in text and "Calm when presenting to the team" in text
        csrf = await csrf_of(client, path)
        bad = await client.post(path, data={"_csrf": csrf, "stayed": "Iets", "wish": "  ",
                                            f"goal_{p.goal_ids[0]}": "12"})
        body = await bad.text()
        assert bad.status == 400
        assert "Beantwoord deze vraag alsjeblieft." in body and "Kies een score van 1 tot 10." in body
        assert 'aria-invalid="true"' in body and ">Iets</textarea>" in body  # what was typed stays
        assert await exchanges(sessions, p.engagement.id, channel="form") == []
        good = await client.post(path, data={"_csrf": csrf, "wish": "Rust", f"goal_{p.goal_ids[0]}": "5"},
                                 allow_redirects=False)
        assert (good.status, good.headers["Location"]) == (303, path)
        thanks = await (await client.get(path)).text()
        assert "Dank je: je antwoorden zijn bij" in thanks and "Rust" in thanks
        again = await client.post(path, data={"_csrf": csrf, "wish": "Anders"}, allow_redirects=False)
        assert again.status == 303 and len(await exchanges(sessions, p.engagement.id, channel="form")) == 1

        # After the session the check-in link has expired and says what to do; a feedback
        # link sent twice: the first says a newer one was sent.
        go(clock, booking.ends_at + timedelta(minutes=31))
        await runner(sessions, config, clock).run_once()
        [feedback] = await forms(sessions, kind="feedback")
        async with sessions() as session:
            engagement = await session.get(Engagement, p.engagement.id)
            newer = await form_links.do_send_form(session, engagement, kind="feedback", booking=booking,
                                                  settings=config, now=clock.now())
            await session.commit()
        old = await client.get(f"/f/{token_of(feedback)}")
        assert old.status == 410 and "nieuwere link" in await old.text()
        unknown = await client.get("/f/" + "a" * 43)
        assert unknown.status == 404 and "Deze link is niet geldig" in await unknown.text()
        go(clock, clock.now() + timedelta(days=15))
        expired = await client.get(f"/f/{newer.token}")
        assert expired.status == 410 and "verlopen" in await expired.text()
        csrf = await csrf_of(client, "/login")
        assert (await client.post(f"/f/{newer.token}", data={"_csrf": csrf, "score": "7"})).status == 410


async def test_coach_closes_a_session_and_the_coachee_ticks_and_scores_on_the_chat_page(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=False)
    p = await practice(sessions, make_coach, make_engagement, clock, language="en")
    other = await make_coach(email="other@example.org")
    booking = await book_session(sessions, config, p, ams(day(clock, 0), 10), clock.now())
    page = f"/engagements/{p.engagement.id}/sessions/{booking.id}"
    async with sessions() as session:
        chat_token = (await make_engagement_token(session, p.engagement.id, clock))
        await session.commit()
    go(clock, booking.ends_at)
    async with app_client(config, clock) as client:
        await login(client, p.coach.email)
        early = await client.post(f"{page}/send/checkin", data={"_csrf": await csrf_of(client, page)})
        assert early.status == 409 and "a check-in is no longer useful" in await early.text()
        text = await (await client.get(page)).text()
        assert "Close of the session" in text and 'name="step_text_1"' in text
        csrf = await csrf_of(client, page)
        form = {"_csrf": csrf, "summary": "We practised saying no.", "shared": "1",
                "step_text_1": "Say no to one meeting", "step_due_1": day(clock, 1).isoformat(),
                "step_text_2": "Walk at lunch", "step_due_2": "soon"}
        bad = await client.post(f"{page}/close", data=form)
        body = await bad.text()
        assert bad.status == 400 and "Action step 2: Give a date like 2026-12-01." in body
        assert 'value="Walk at lunch"' in body  # kept
        empty = await client.post(f"{page}/close",
                                  data={**form, "summary": " ", "step_due_2": day(clock, 2).isoformat()})
        assert empty.status == 400 and "Write a short summary of the session." in await empty.text()
        done = await client.post(f"{page}/close", data={**form, "step_due_2": day(clock, 2).isoformat()},
                                 allow_redirects=False)
        assert (done.status, done.headers["Location"]) == (303, page)
        text = await (await client.get(page)).text()
        assert "The session is closed." in text and "We practised saying no." in text and "Walk at lunch" in text
        evaluation = await client.post(f"/engagements/{p.engagement.id}/forms/evaluation", data={"_csrf": csrf},
                                       allow_redirects=False)
        assert evaluation.status == 303
        engagement_page = await (await client.get(f"/engagements/{p.engagement.id}")).text()
        assert 'id="coaching"' in engagement_page and "Session close: done" in engagement_page

    async with app_client(config, clock) as coachee:
        chat = await (await coachee.get(f"/c/{chat_token}")).text()
        assert "Say no to one meeting" in chat and 'aria-pressed="false"' in chat and 'id="progress"' in chat
        # The evaluation form: the required answers are named, the goal scores asked.
        [evaluation_form] = await forms(sessions, kind="evaluation")
        path = f"/f/{token_of(evaluation_form)}"
        form_csrf = await csrf_of(coachee, path)
        refused = await coachee.post(path, data={"_csrf": form_csrf, "helped": "Walking", "score": "ten"})
        body = await refused.text()
        assert refused.status == 400 and body.count('class="field-error error-message"') == 2
        assert "Please answer this question." in body and "Choose a score from 1 to 10." in body
        answered = await coachee.post(path, allow_redirects=False, data={
            "_csrf": form_csrf, "changed": "I say no more easily", "score": "9", f"goal_{p.goal_ids[0]}": "8"})
        assert answered.status == 303
        csrf = re.search(r'name="_csrf" value="([^"]+)"', chat).group(1)
        async with sessions() as session:
            [first, second] = (await session.execute(select(ActionStep).order_by(ActionStep.id))).scalars().all()
        ticked = await coachee.post(f"/c/{chat_token}/action-steps/{first.id}/done", data={"done": "1"},
                                    headers={"X-CSRF-Token": csrf, "Accept": "application/json"})
        assert ticked.status == 200 and await ticked.json() == {"id": first.id, "done": True}
        plain = await coachee.post(f"/c/{chat_token}/action-steps/{second.id}/done",
                                   data={"_csrf": csrf, "done": "1"}, allow_redirects=False)
        assert plain.status == 303
        undo = await coachee.post(f"/c/{chat_token}/action-steps/{second.id}/done",
                                  data={"_csrf": csrf, "done": "0"}, allow_redirects=False)
        assert undo.status == 303
        missing = await coachee.post(f"/c/{chat_token}/action-steps/999999/done", data={"_csrf": csrf, "done": "1"})
        assert missing.status == 404 and "does not exist" in await missing.text()
        # Another coachee's link cannot tick this coachee's step.
        stranger = (await make_engagement(p.coach, coachee_name="Stranger", secret="test-secret-key")).chat_token
        foreign = await coachee.post(f"/c/{stranger}/action-steps/{first.id}/done", data={"_csrf": csrf, "done": "0"})
        assert foreign.status == 404
        chat = await (await coachee.get(f"/c/{chat_token}")).text()
        assert chat.count('aria-pressed="true"') == 1
        # The coachee's own scores: a bad one is refused with the goal named.
        scores = f"/c/{chat_token}/scores"
        wrong = await coachee.post(scores, data={"_csrf": csrf, f"goal_{p.goal_ids[1]}": "0"}, allow_redirects=False)
        assert wrong.status == 303
        assert "Say no to extra work: Choose a score from 1 to 10." in await (await coachee.get(f"/c/{chat_token}")).text()
        ok = await coachee.post(scores, data={"_csrf": csrf, f"goal_{p.goal_ids[1]}": "6"}, allow_redirects=False)
        assert ok.status == 303
        chat = await (await coachee.get(f"/c/{chat_token}")).text()
        assert "Your scores are saved." in chat and 'data-score="6"' in chat and "own update" in chat

    async with app_client(config, clock) as intruder:
        await login(intruder, other.email, PASSWORD)
        token = await csrf_of(intruder, "/")
        assert (await intruder.get(page)).status == 404
        assert (await intruder.get(f"/engagements/{p.engagement.id}/supports")).status == 404
        for path in (f"{page}/close", f"{page}/send/feedback", f"/engagements/{p.engagement.id}/forms/evaluation",
                     f"/engagements/{p.engagement.id}/reviews/1", f"/engagements/{p.engagement.id}/supports/end/mine"):
            assert (await intruder.post(path, data={"_csrf": token, "summary": "x", "decision": "continue"},
                                        allow_redirects=False)).status == 404, path


async def make_engagement_token(session, engagement_id: int, clock) -> str:  # type: ignore[no-untyped-def]
    from ecoach.actions.engagements import do_new_chat_link

    engagement = await session.get(Engagement, engagement_id)
    return await do_new_chat_link(session, engagement, now=clock.now(), secret="test-secret-key")


async def test_review_chart_and_four_supports_pages(
        sessions, make_coach, make_engagement, clock, db_url) -> None:  # type: ignore[no-untyped-def]
    config = settings(db_url, mail=False, review_every=2)
    p = await practice(sessions, make_coach, make_engagement, clock, language="en")
    booked = [await book_session(sessions, config, p, ams(day(clock, n), 10), clock.now()) for n in range(2)]
    tasks = runner(sessions, config, clock)
    for booking in booked:
        go(clock, booking.ends_at + timedelta(minutes=31))
        while await tasks.run_once():
            pass
    base = f"/engagements/{p.engagement.id}"
    async with app_client(config, clock) as client:
        await login(client, p.coach.email)
        text = await (await client.get(base)).text()
        assert "Time for a review: 2 sessions held" in text
        review_id = int(re.search(r'id="review-(\d+)"', text).group(1))
        csrf = await csrf_of(client, base)
        bad = await client.post(f"{base}/reviews/{review_id}", data={"_csrf": csrf, "decision": "later"})
        assert bad.status == 400 and "Choose: continue, adjust the goals or round off." in await bad.text()
        decided = await client.post(f"{base}/reviews/{review_id}", allow_redirects=False,
                                    data={"_csrf": csrf, "decision": "continue", f"goal_{p.goal_ids[0]}": "7"})
        assert (decided.status, decided.headers["Location"]) == (303, f"{base}#coaching")
        text = await (await client.get(base)).text()
        assert "The review is recorded." in text and 'id="review-' not in text
        assert '<svg xmlns="http://www.w3.org/2000/svg"' in text and 'role="img"' in text
        assert 'data-score="7"' in text and "<td>7/10</td>" in text and "review" in text

        # The questionnaire: sent at the start, answered by both, side by side.
        sent = await client.post(f"{base}/forms/supports", data={"_csrf": csrf, "round": "start"},
                                 allow_redirects=False)
        assert sent.status == 303
        wrong_round = await client.post(f"{base}/forms/supports", data={"_csrf": csrf, "round": "middle"})
        assert wrong_round.status == 400 and "Choose the start or the end round." in await wrong_round.text()
        [questionnaire] = await forms(sessions, kind="supports")
        theirs = {item.key: "3" for item in ITEMS} | {"ca1": "1"}
        async with app_client(config, clock) as coachee:
            path = f"/f/{token_of(questionnaire)}"
            form_csrf = await csrf_of(coachee, path)
            missing = await coachee.post(path, data={"_csrf": form_csrf, **theirs, "se2": ""})
            assert missing.status == 400 and "Choose one of the five answers." in await missing.text()
            assert (await coachee.post(path, data={"_csrf": form_csrf, **theirs}, allow_redirects=False)).status == 303
        mine_path = f"{base}/supports/start/mine"
        incomplete = await client.post(mine_path, data={"_csrf": csrf, "se1": "9"})
        assert incomplete.status == 400 and "Choose one of the five answers." in await incomplete.text()
        mine = {item.key: "3" for item in ITEMS} | {"ca1": "4"}
        saved = await client.post(mine_path, data={"_csrf": csrf, **mine}, allow_redirects=False)
        assert (saved.status, saved.headers["Location"]) == (303, f"{base}/supports")
        compared = await (await client.get(f"{base}/supports")).text()
        row = re.search(r'<tr class="item-row differs" data-item="ca1">(.*?)</tr>', compared, re.S).group(1)
        assert '"score coachee-score">1<' in row and '"score coach-score">4<' in row and "+3" in row
        assert compared.count('class="item-row differs"') == 1 and "seen differently" in compared
