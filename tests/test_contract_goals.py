"""The goals model on both databases: versions drafted from the template or from the
current version, goals that keep their id across versions, scores with their source, and
the refusals (bad score, a goal outside the version in force, a frozen version)."""

from __future__ import annotations


import pytest
from sqlalchemy import select, text

from ecoach.actions import contracts
from ecoach.actions.contract_checks import check_goals, check_terms
from ecoach.actions.errors import ActionError
from ecoach.actions.goals import check_score, do_record_goal_score, do_record_goal_scores
from ecoach.logbook import contract_queries as cq
from ecoach.logbook.contract_models import Contract, ContractGoal, GoalScore


def goals_form(*goals: tuple[str, str, str], ids: tuple[int | None, ...] = ()) -> dict[str, str]:
    form: dict[str, str] = {}
    for n, (title, indicators, score) in enumerate(goals, start=1):
        form.update({f"goal{n}_title": title, f"goal{n}_indicators": indicators, f"goal{n}_score": score})
        if len(ids) >= n and ids[n - 1] is not None:
            form[f"goal{n}_id"] = str(ids[n - 1])
    return form


THREE = goals_form(("Rustig presenteren voor het team", "Ik spreek zonder notities\nIk slaap goed de nacht ervoor", "4"),
                   ("Nee zeggen tegen extra werk", "Ik zeg één keer per week nee", "3"),
                   ("Een loopbaanstap kiezen", "Ik heb een besluit op papier", "5"))


async def draft_and_offer(sessions, engagement, clock, form=THREE):  # type: ignore[no-untyped-def]
    async with sessions() as session:
        engagement = await session.merge(engagement)
        contract = await contracts.do_new_contract_version(session, engagement, now=clock.now())
        terms = check_terms({**contract.terms, "channels": None, "sponsor_sees": "attendance"},
                            channels=contract.terms["channels"])
        await contracts.do_save_draft(session, engagement, contract, terms, check_goals(form), now=clock.now())
        await contracts.do_offer_contract(session, engagement, contract, now=clock.now())
        await session.commit()
        return contract.id


async def test_goals_keep_their_id_and_scores_across_versions(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, clock
) -> None:
    coach = await make_coach(language="nl")
    engagement = (await make_engagement(coach, language="nl")).engagement
    async with sessions() as session:
        assert await cq.get_current_goals(session, engagement.id) == []
        draft = await contracts.do_new_contract_version(session, await session.merge(engagement), now=clock.now())
        # The default template in the engagement's language.
        assert draft.version == 1 and "beroepsgeheim" in draft.terms["secrecy"]
        await session.commit()
    # A draft is not in force: no goals yet.
    async with sessions() as session:
        assert await cq.get_current_goals(session, engagement.id) == []
    first = await draft_and_offer(sessions, engagement, clock)
    async with sessions() as session:
        goals = await cq.get_current_goals(session, engagement.id)
        assert [(g.position, g.title, g.start_score, g.score) for g in goals] == [
            (1, "Rustig presenteren voor het team", 4, None), (2, "Nee zeggen tegen extra werk", 3, None),
            (3, "Een loopbaanstap kiezen", 5, None)]
        assert goals[0].indicators == ("Ik spreek zonder notities", "Ik slaap goed de nacht ervoor")
        assert {g.contract_id for g in goals} == {first} and goals[0].version == 1
        clock.advance(days=7)
        await do_record_goal_scores(session, engagement.id, {goals[0].goal_id: 6, goals[1].goal_id: "4"},
                                    source="check_in", source_id=77, now=clock.now())
        clock.advance(days=7)
        await do_record_goal_score(session, engagement.id, goals[0].goal_id, 7, source="coachee", now=clock.now())
        await session.commit()

    async with sessions() as session:
        goals = await cq.get_current_goals(session, engagement.id)
        assert [g.score for g in goals] == [7, 4, None]
        history = await cq.get_goal_scores(session, engagement.id, [goals[0].goal_id])
        assert [(s.score, s.source, s.source_id) for s in history] == [(6, "check_in", 77), (7, "coachee", None)]
        # A new version copies the goals with their latest score; the ids stay.
        draft = await contracts.do_new_contract_version(session, await session.merge(engagement), now=clock.now())
        assert draft.version == 2 and draft.status == "draft"
        copied = await cq.get_contract_goals(session, draft.id)
        assert [(c.goal_id, c.score) for c in copied] == [(g.goal_id, s) for g, s in zip(goals, (7, 4, 5))]
        # Asking again gives the same draft.
        again = await contracts.do_new_contract_version(session, await session.merge(engagement), now=clock.now())
        assert again.id == draft.id
        await session.commit()
    # Version 2 rephrases goal 1, keeps goal 3, drops goal 2 and adds a new one.
    ids = tuple(g.goal_id for g in goals)
    second = await draft_and_offer(sessions, engagement, clock, goals_form(
        ("Presenteren zonder notities", "Ik presenteer maandelijks", "7"),
        ("Een loopbaanstap kiezen", "Ik heb een besluit op papier", "5"),
        ("Beter slapen", "Zeven uur per nacht", "3"), ids=(ids[0], ids[2], None)))
    async with sessions() as session:
        first_contract = await session.get(Contract, first)
        assert first_contract.status == "superseded"  # never accepted: the newer offer replaces it
        now_goals = await cq.get_current_goals(session, engagement.id)
        assert [g.goal_id for g in now_goals][:2] == [ids[0], ids[2]] and now_goals[2].goal_id not in ids
        assert {g.contract_id for g in now_goals} == {second}
        assert now_goals[0].score == 7  # the line of scores goes on
        with pytest.raises(ActionError) as refused:  # goal 2 left the contract
            await do_record_goal_score(session, engagement.id, ids[1], 5, source="review", now=clock.now())
        assert refused.value.code == "goal_unknown"


@pytest.mark.parametrize("value", [0, 11, "", "7.5", "zeven", None, True, "²", -1])
def test_bad_scores_are_refused_with_the_range(value: object) -> None:
    with pytest.raises(ActionError) as refused:
        check_score(value)
    assert str(refused.value) == "A score is a whole number from 1 to 10."


def test_the_goal_form_names_what_is_missing() -> None:
    cases = [
        (goals_form(("", "iets", "4")), "Goal 1: describe the goal."),
        (goals_form(("Doel", "", "4")), "Goal 1: give at least one indicator: how will you notice it is reached?"),
        (goals_form(("Doel", "x", "")), "Goal 1: give the current score from 1 to 10."),
        (goals_form(("Doel", "x", "4"), ("Doel 2", "y", "12")), "Goal 2: the score is a whole number from 1 to 10."),
        (goals_form(("D" * 301, "x", "4")), "Goal 1: at most 300 characters."),
    ]
    for form, message in cases:
        with pytest.raises(ActionError) as refused:
            check_goals(form)
        assert str(refused.value) == message


async def test_a_score_is_sealed_and_an_offered_version_is_frozen(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, clock, engine
) -> None:
    coach = await make_coach()
    engagement = (await make_engagement(coach)).engagement
    contract_id = await draft_and_offer(sessions, engagement, clock)
    async with sessions() as session:
        [goal, *_] = await cq.get_current_goals(session, engagement.id)
        await do_record_goal_score(session, engagement.id, goal.goal_id, 8, source="review", now=clock.now())
        await session.commit()
    async with engine.connect() as conn:
        raw = (await conn.execute(text("SELECT score FROM goal_score"))).scalar_one()
        title = (await conn.execute(text("SELECT title FROM contract_goal WHERE position = 1"))).scalar_one()
    assert b"8" != bytes(raw) and b"presenteren" not in bytes(title)
    async with sessions() as session:
        contract = await session.get(Contract, contract_id)
        assert (await session.execute(select(GoalScore.score))).scalar_one() == 8
        with pytest.raises(ActionError) as refused:
            await contracts.do_save_draft(session, await session.merge(engagement), contract,
                                          check_terms({}, channels=[]), [], now=clock.now())
        assert refused.value.code == "contract_frozen"
        assert len((await session.execute(select(ContractGoal))).scalars().all()) == 3
