"""The logbook on both databases: migrations up and down, append-only exchanges, the
inbox summary and inbox order, timeline paging, and full-text search."""

from __future__ import annotations

from datetime import timedelta

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text, update
from sqlalchemy.exc import DBAPIError

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ecoach.actions.keys import do_encrypt_existing
from ecoach.core.crypto import PLAIN_KEY
from ecoach.logbook import queries
from ecoach.logbook.db import alembic_config
from ecoach.logbook.models import Base, Engagement, Exchange

# Areas may add migrations on their own branches until a merge revision joins them.
HEADS = set(ScriptDirectory.from_config(alembic_config()).get_heads())


def _outside_models(change: tuple) -> bool:  # type: ignore[type-arg]
    """Made by the migrations on purpose, outside the models: the full-text indexes
    (SQLite's exchange_fts* tables, PostgreSQL's ix_exchange_fts) and Alembic's own."""
    kind, item = change[0], change[1]
    if kind == "remove_table":
        return item.name == "alembic_version" or item.name.startswith("exchange_fts")
    return kind == "remove_index" and item.name == "ix_exchange_fts"


async def _version(engine) -> set[str] | None:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        if "alembic_version" not in tables:
            return None
        rows = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
        return set(rows) or None


async def _alembic(engine, verb: str, revision: str) -> None:  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        await conn.run_sync(lambda c: getattr(command, verb)(alembic_config(c), revision))


async def _tables(engine) -> set[str]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    return {n for n in names if not n.startswith("exchange_fts")}


# --- Migrations ----------------------------------------------------------------------


async def test_a_new_database_is_at_head(engine) -> None:  # type: ignore[no-untyped-def]
    assert HEADS
    assert await _version(engine) == HEADS
    assert {"coach", "coachee", "engagement", "exchange", "chat_link"} <= await _tables(engine)


# SQLite cannot reflect expression indexes (ix_engagement_due, ix_coachee_email_lower);
# PostgreSQL compares them.
@pytest.mark.filterwarnings("ignore:.*ix_engagement_due", "ignore:.*ix_coachee_email_lower")
async def test_migrations_match_the_models(engine) -> None:  # type: ignore[no-untyped-def]
    def diff(conn):  # type: ignore[no-untyped-def]
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)

    async with engine.connect() as conn:
        changes = await conn.run_sync(diff)
    assert [c for c in changes if not _outside_models(c)] == []


async def test_downgrade_to_base_and_upgrade_again(  # type: ignore[no-untyped-def]
    engine, sessions, make_coach, make_engagement, record_exchange
) -> None:
    await _alembic(engine, "downgrade", "base")
    assert await _tables(engine) <= {"alembic_version"}
    assert await _version(engine) is None

    await _alembic(engine, "upgrade", "heads")
    assert await _version(engine) == HEADS
    # The rules the migrations add outside the tables work again: search and append-only.
    coach = await make_coach()
    created = await make_engagement(coach)
    recorded = await record_exchange(created.engagement.id, "Terug van weggeweest")
    async with sessions() as session:
        hits = await queries.search_logbook(session, coach.id, "weggeweest")
    assert [h.exchange.id for h in hits] == [recorded.exchange.id]
    await _expect_append_only(sessions, recorded.exchange.id)


async def test_downgrading_the_mail_migration_keeps_the_logbook(  # type: ignore[no-untyped-def]
    engine, sessions, keyring, make_coach, make_engagement, record_exchange
) -> None:
    coach = await make_coach()
    created = await make_engagement(coach)
    recorded = await record_exchange(created.engagement.id, "Bewaard over migraties heen")

    await _alembic(engine, "downgrade", "0001")
    assert await _version(engine) == {"0001"}
    async with engine.connect() as conn:
        body = (await conn.execute(text("SELECT body_text FROM exchange"))).scalar_one()
    assert body == "Bewaard over migraties heen"

    await _alembic(engine, "upgrade", "heads")
    # What was stored before encryption is readable, and found once it is sealed.
    async with sessions() as session:
        assert (await session.get(Exchange, recorded.exchange.id)).body_text == "Bewaard over migraties heen"
    assert (await do_encrypt_existing(sessions, keyring)).get("exchange") == 1
    async with sessions() as session:
        hits = await queries.search_logbook(session, coach.id, "migraties")
    assert [h.exchange.id for h in hits] == [recorded.exchange.id]
    await _expect_append_only(sessions, recorded.exchange.id)


# --- Append-only ---------------------------------------------------------------------


def _sealed(field: str, value: object) -> bytes:
    """A value in a sealed column's form (plaintext mode's: the trigger must refuse it anyway)."""
    kind = "json" if field == "meta" else "text"
    return PLAIN_KEY.seal(f"exchange.{field}", kind, value)


async def _expect_append_only(sessions, exchange_id: int) -> None:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        with pytest.raises(DBAPIError, match="append-only"):
            await session.execute(
                update(Exchange).where(Exchange.id == exchange_id).values(body_text_sealed=_sealed("body_text", "x"))
            )
            await session.flush()


async def test_the_logbook_is_append_only(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange
) -> None:
    coach = await make_coach()
    created = await make_engagement(coach)
    recorded = await record_exchange(created.engagement.id, "Wat ik echt schreef", direction="out",
                                     meta={"subject": "Origineel"})
    exchange_id = recorded.exchange.id

    await _expect_append_only(sessions, exchange_id)
    for column, value in [("author_name", "Someone else"), ("body_html", "<p>x</p>"),
                          ("meta", {"subject": "Vervalst"})]:
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(
                    update(Exchange).where(Exchange.id == exchange_id)
                    .values({f"{column}_sealed": _sealed(column, value)})
                )

    # Through the ORM too: a changed object is refused when it is flushed.
    async with sessions() as session:
        exchange = await session.get(Exchange, exchange_id)
        assert exchange is not None
        exchange.body_text = "edited"
        with pytest.raises(DBAPIError, match="append-only"):
            await session.commit()

    # The delivery state is the one thing that may change.
    async with sessions() as session:
        await session.execute(
            update(Exchange).where(Exchange.id == exchange_id)
            .values(delivery_state="sent", delivery_detail="250 OK")
        )
        await session.commit()
    async with sessions() as session:
        exchange = await session.get(Exchange, exchange_id)
        assert exchange is not None
        assert (exchange.delivery_state, exchange.delivery_detail) == ("sent", "250 OK")
        assert exchange.body_text == "Wat ik echt schreef"
        assert exchange.meta == {"subject": "Origineel"}


# --- Inbox summary and inbox order ---------------------------------------------------


async def _engagement(sessions, engagement_id: int) -> Engagement:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        engagement = await session.get(Engagement, engagement_id)
        assert engagement is not None
        return engagement


async def test_inbound_starts_the_wait_and_an_answer_ends_it(  # type: ignore[no-untyped-def]
    sessions, clock, make_coach, make_engagement, record_exchange
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    start = clock.now()

    first = await record_exchange(eid, "Hoi, een vraag")
    assert first.was_waiting is False
    clock.advance(minutes=30)
    second = await record_exchange(eid, "En nog iets", channel="mail")
    assert second.was_waiting is True
    engagement = await _engagement(sessions, eid)
    assert engagement.waiting_since == start  # kept at the first unanswered message
    assert engagement.unread_count == 2
    assert engagement.last_exchange_id == second.exchange.id
    assert engagement.last_exchange_at == start + timedelta(minutes=30)
    assert (engagement.last_channel, engagement.last_direction) == ("mail", "in")
    assert engagement.last_inbound_channel == "mail"
    assert engagement.last_snippet == "En nog iets"

    clock.advance(minutes=5)
    await record_exchange(eid, "Notitie voor mezelf", direction="internal", channel="note")
    engagement = await _engagement(sessions, eid)
    assert (engagement.waiting_since, engagement.unread_count) == (start, 2)
    assert engagement.last_exchange_id == second.exchange.id  # notes do not count

    clock.advance(minutes=5)
    answer = await record_exchange(eid, "Dank je, hier mijn antwoord", direction="out")
    engagement = await _engagement(sessions, eid)
    assert engagement.waiting_since is None
    assert engagement.unread_count == 0
    assert engagement.last_exchange_id == answer.exchange.id
    assert engagement.last_direction == "out"
    assert engagement.last_inbound_channel == "mail"  # still the channel to answer on

    clock.advance(minutes=5)
    await record_exchange(eid, "Nieuwe vraag")
    engagement = await _engagement(sessions, eid)
    assert engagement.waiting_since == clock.now()
    assert engagement.unread_count == 1


async def test_inbox_puts_the_longest_wait_first_then_the_most_recent(  # type: ignore[no-untyped-def]
    sessions, clock, make_coach, make_engagement, record_exchange
) -> None:
    coach = await make_coach()
    names = ["quiet-old", "waiting-short", "quiet-recent", "waiting-long", "answered"]
    ids = {name: (await make_engagement(coach, coachee_name=name)).engagement.id for name in names}

    clock.advance(hours=1)
    await record_exchange(ids["waiting-long"], "Ik wacht al lang")
    await record_exchange(ids["quiet-old"], "Helder, dank", direction="out")
    clock.advance(hours=1)
    await record_exchange(ids["answered"], "Vraag")
    clock.advance(minutes=1)
    await record_exchange(ids["answered"], "Antwoord", direction="out")
    clock.advance(hours=1)
    await record_exchange(ids["waiting-short"], "Ik wacht net")
    clock.advance(hours=1)
    await record_exchange(ids["quiet-recent"], "Tot morgen", direction="out")

    async with sessions() as session:
        rows = await queries.get_inbox(session, coach.id)
    assert [r.coachee_name for r in rows] == [
        "waiting-long", "waiting-short", "quiet-recent", "answered", "quiet-old"
    ]
    assert [r.engagement.id for r in rows] == [ids[r.coachee_name] for r in rows]

    async with sessions() as session:
        page = await queries.get_inbox(session, coach.id, limit=2, offset=2)
    assert [r.coachee_name for r in page] == ["quiet-recent", "answered"]


async def test_inbox_and_engagements_are_scoped_to_their_coach(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange
) -> None:
    anna, bram = await make_coach(), await make_coach()
    mine = (await make_engagement(anna, coachee_name="Van Anna")).engagement
    theirs = (await make_engagement(bram, coachee_name="Van Bram")).engagement
    await record_exchange(mine.id, "Bericht aan Anna")

    async with sessions() as session:
        assert [r.coachee_name for r in await queries.get_inbox(session, bram.id)] == ["Van Bram"]
        assert [r.coachee_name for r in await queries.get_inbox(session, anna.id)] == ["Van Anna"]
        assert await queries.get_engagement(session, bram.id, mine.id) is None
        assert await queries.get_engagement(session, anna.id, theirs.id) is None
        found = await queries.get_engagement(session, anna.id, mine.id)
        assert found is not None and found.id == mine.id
        assert await queries.get_inbox(session, 987654) == []


async def test_inbox_leaves_out_closed_engagements_unless_asked(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement
) -> None:
    coach = await make_coach()
    open_ = (await make_engagement(coach, coachee_name="Open")).engagement
    closed = (await make_engagement(coach, coachee_name="Gesloten")).engagement
    async with sessions() as session:
        await session.execute(update(Engagement).where(Engagement.id == closed.id).values(status="closed"))
        await session.commit()
    async with sessions() as session:
        assert [r.engagement.id for r in await queries.get_inbox(session, coach.id)] == [open_.id]
        rows = await queries.get_inbox(session, coach.id, statuses=("closed",))
        assert [r.engagement.id for r in rows] == [closed.id]


# --- Timeline ------------------------------------------------------------------------


async def test_timeline_pages_forwards_and_backwards(  # type: ignore[no-untyped-def]
    sessions, clock, make_coach, make_engagement, record_exchange
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    other = (await make_engagement(coach)).engagement.id
    ids = []
    for n in range(10):
        direction = "internal" if n % 4 == 3 else ("in" if n % 2 == 0 else "out")
        channel = "note" if direction == "internal" else "chat"
        ids.append((await record_exchange(eid, f"bericht {n}", direction=direction, channel=channel)).exchange.id)
        await record_exchange(other, f"elders {n}")
        clock.advance(minutes=1)
    notes = {ids[3], ids[7]}

    async with sessions() as session:
        everything = await queries.get_timeline(session, eid)
        assert [e.id for e in everything] == ids
        assert [e.body_text for e in everything] == [f"bericht {n}" for n in range(10)]

        newest = await queries.get_timeline(session, eid, limit=4)
        assert [e.id for e in newest] == ids[6:]  # the newest page, in logbook order
        older = await queries.get_timeline(session, eid, before_id=newest[0].id, limit=4)
        assert [e.id for e in older] == ids[2:6]
        oldest = await queries.get_timeline(session, eid, before_id=older[0].id, limit=4)
        assert [e.id for e in oldest] == ids[:2]
        assert await queries.get_timeline(session, eid, before_id=ids[0]) == []

        after = await queries.get_timeline(session, eid, after_id=ids[2], limit=3)
        assert [e.id for e in after] == ids[3:6]
        assert await queries.get_timeline(session, eid, after_id=ids[-1]) == []

        public = await queries.get_timeline(session, eid, include_internal=False)
        assert [e.id for e in public] == [i for i in ids if i not in notes]
        assert all(e.direction != "internal" for e in public)
        public_after = await queries.get_timeline(session, eid, after_id=ids[2], include_internal=False)
        assert [e.id for e in public_after] == [i for i in ids[3:] if i not in notes]
        public_before = await queries.get_timeline(
            session, eid, before_id=ids[8], limit=3, include_internal=False
        )
        assert [e.id for e in public_before] == [ids[4], ids[5], ids[6]]


# --- Search --------------------------------------------------------------------------


@pytest.fixture
async def searchable(make_coach, make_engagement, record_exchange):  # type: ignore[no-untyped-def]
    """Two coaches' logbooks with known words; returns (coach, other coach, exchange ids)."""
    coach, other = await make_coach(), await make_coach()
    eid = (await make_engagement(coach, coachee_name="Sanne")).engagement.id
    oid = (await make_engagement(other, coachee_name="Olaf")).engagement.id
    texts = {
        "stress": "Ik merk veel STRESS op het werk, vooral bij deadlines.",
        "sleep": "Slaap is beter sinds ik 's avonds wandel.",
        "both": "Werkdruk en slaap hangen samen, denk ik.",
        "note": "Notitie: bespreken hoe de werkdruk verdeeld is.",
    }
    ids = {}
    for key, body in texts.items():
        kind = {"direction": "internal", "channel": "note"} if key == "note" else {}
        ids[key] = (await record_exchange(eid, body, **kind)).exchange.id
    ids["other"] = (await record_exchange(oid, "Stress en slaap bij een andere coach")).exchange.id
    return coach, other, ids


async def _search(sessions, coach_id: int, query: str) -> set[int]:  # type: ignore[no-untyped-def]
    async with sessions() as session:
        return {hit.exchange.id for hit in await queries.search_logbook(session, coach_id, query)}


async def test_search_finds_words_and_prefixes_in_any_case(sessions, searchable) -> None:  # type: ignore[no-untyped-def]
    coach, _, ids = searchable
    assert await _search(sessions, coach.id, "stress") == {ids["stress"]}
    assert await _search(sessions, coach.id, "Stress") == {ids["stress"]}
    assert await _search(sessions, coach.id, "slaap") == {ids["sleep"], ids["both"]}
    assert await _search(sessions, coach.id, "SLA") == {ids["sleep"], ids["both"]}  # prefix
    assert await _search(sessions, coach.id, "werk") == {ids["stress"], ids["both"], ids["note"]}
    assert await _search(sessions, coach.id, "werkdruk slaap") == {ids["both"]}  # every word
    assert await _search(sessions, coach.id, "werkdruk, slaap!") == {ids["both"]}
    assert await _search(sessions, coach.id, "vakantie") == set()
    async with sessions() as session:
        [hit] = await queries.search_logbook(session, coach.id, "deadlines")
    assert hit.coachee_name == "Sanne"
    assert hit.exchange.body_text.startswith("Ik merk")


async def test_search_is_scoped_to_the_coach(sessions, searchable) -> None:  # type: ignore[no-untyped-def]
    coach, other, ids = searchable
    assert ids["other"] not in await _search(sessions, coach.id, "stress slaap")
    assert await _search(sessions, other.id, "stress") == {ids["other"]}
    assert await _search(sessions, other.id, "werkdruk") == set()
    assert await _search(sessions, 987654, "stress") == set()


@pytest.mark.parametrize("query", ["", "   ", "!!!", "?", "...", "—", "'\"", "*", "()", "-"])
async def test_search_without_words_finds_nothing(sessions, searchable, query: str) -> None:  # type: ignore[no-untyped-def]
    coach, _, _ = searchable
    assert await _search(sessions, coach.id, query) == set()


NASTY = [
    '"', '"stress', 'stress"', "*", "stress*", "*stress", "stress AND slaap", "AND", "OR", "NOT",
    "stress OR", "NOT stress", "(", "stress)", "(stress", "NEAR", "NEAR(stress slaap)",
    "NEAR(stress, 2)", "stress NEAR slaap", "body_text:stress", "{body_text}: stress", "^stress",
    "stress:*", "stress & slaap", "stress | slaap", "!stress", "<->", "stress <-> slaap", "'",
    "stress'", "'; DROP TABLE exchange; --", "\\", "%", "_", "__", "a_b", "stress_", "\x00",
    "🙂 stress", "ﬁ", "x" * 1000, "stress " * 40, "日本語", "café", "ŞTRESS",
]


async def test_search_survives_query_syntax(sessions, searchable) -> None:  # type: ignore[no-untyped-def]
    coach, _, ids = searchable
    for query in NASTY:
        found = await _search(sessions, coach.id, query)
        assert found <= set(ids.values()) - {ids["other"]}, query
    # Operators are plain words: they are looked for, not obeyed.
    assert await _search(sessions, coach.id, "stress AND slaap") == set()
    assert await _search(sessions, coach.id, '"stress"') == {ids["stress"]}
    assert await _search(sessions, coach.id, "(stress)") == {ids["stress"]}
    assert await _search(sessions, coach.id, "stress*") == {ids["stress"]}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(query=st.text(max_size=30))
async def test_search_never_fails_on_any_text(sessions, searchable, query: str) -> None:  # type: ignore[no-untyped-def]
    coach, _, ids = searchable
    assert await _search(sessions, coach.id, query) <= set(ids.values()) - {ids["other"]}


async def test_search_still_works_after_rows_are_stored_in_bulk(  # type: ignore[no-untyped-def]
    sessions, make_coach, make_engagement, record_exchange
) -> None:
    coach = await make_coach()
    eid = (await make_engagement(coach)).engagement.id
    for n in range(30):
        await record_exchange(eid, f"regel {n} met woord{n % 3}")
    assert len(await _search(sessions, coach.id, "woord1")) == 10
    assert len(await _search(sessions, coach.id, "regel")) == 30
    async with sessions() as session:
        capped = await queries.search_logbook(session, coach.id, "regel", limit=5)
        newest = (await session.execute(select(Exchange.id).order_by(Exchange.id.desc()).limit(5))).scalars()
    assert [h.exchange.id for h in capped] == list(newest)  # newest first
