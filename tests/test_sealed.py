"""The API for personal data: sealed columns, the keyring, and the crypto under them.

A model of its own (``Note``, on its own metadata so the real schema stays as migrated)
stores personal data the way any new table does; the tests check what lands in the
database (ciphertext only) and what the code reads back (plaintext), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import BigInteger, Integer, MetaData, insert, select, text, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ecoach.core import crypto
from ecoach.core.crypto import CryptoError, DataKey, MasterKey, MasterKeys
from ecoach.logbook.db import session_factory
from ecoach.logbook.keyring import Keyring, KeyUnavailable, keyring_of
from ecoach.logbook.sealed import Scope, Sealable, SealedError, sealed

BigId = BigInteger().with_variant(Integer(), "sqlite")


class NoteBase(Sealable, DeclarativeBase):
    metadata = MetaData()


class Note(NoteBase):
    __tablename__ = "test_note"
    __sealed_scope__ = Scope.engagement()

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    engagement_id: Mapped[int] = mapped_column(BigId)
    text: Mapped[str] = sealed()
    photo: Mapped[bytes | None] = sealed(bytes)
    extra: Mapped[dict | None] = sealed(dict)  # type: ignore[type-arg]
    email: Mapped[str | None] = sealed(index="address")


MARK = "Zwartekatmarker"


@pytest.fixture
async def notes(engine, make_coach, make_engagement):  # type: ignore[no-untyped-def]
    async with engine.begin() as conn:
        await conn.run_sync(NoteBase.metadata.create_all)
    coach = await make_coach()
    first = (await make_engagement(coach)).engagement.id
    second = (await make_engagement(coach)).engagement.id
    return first, second


async def _raw(engine) -> list[bytes]:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT text, photo, extra, email, email_index FROM test_note"))).all()
    return [bytes(v) if not isinstance(v, str) else v.encode() for row in rows for v in row if v is not None]


# --- the model API ---------------------------------------------------------------------


async def test_fields_are_stored_sealed_and_read_back_plain(engine, sessions, notes) -> None:  # type: ignore[no-untyped-def]
    first, _ = notes
    async with sessions() as session:
        session.add(Note(engagement_id=first, text=f"dear {MARK}", photo=b"\x89PNG" + MARK.encode(),
                         extra={"subject": MARK, "n": 1}, email=f"{MARK}@example.org"))
        await session.commit()
    stored = await _raw(engine)
    assert stored and not any(MARK.encode() in value or MARK.lower().encode() in value for value in stored)
    assert all(crypto.is_encrypted(v) for v in stored[:4])
    async with sessions() as session:
        note = (await session.execute(select(Note))).scalar_one()
        assert (note.text, note.photo, note.extra, note.email) == (
            f"dear {MARK}", b"\x89PNG" + MARK.encode(), {"subject": MARK, "n": 1}, f"{MARK}@example.org")
        # A single column is opened too, and so is a row of several.
        assert (await session.execute(select(Note.text))).scalar_one() == f"dear {MARK}"
        assert (await session.execute(select(Note.id, Note.extra))).one()[1]["n"] == 1


async def test_a_blind_index_finds_rows_by_value(sessions, notes) -> None:  # type: ignore[no-untyped-def]
    first, second = notes
    async with sessions() as session:
        session.add_all([Note(engagement_id=first, text="a", email="Sanne@Example.org "),
                         Note(engagement_id=second, text="b", email="other@example.org")])
        await session.commit()
    async with sessions() as session:
        wanted = await keyring_of(session).blind(session, Note.email, "sanne@example.ORG")
        found = (await session.execute(select(Note).where(Note.email_index == wanted))).scalars().all()
    assert [n.text for n in found] == ["a"]


async def test_changes_and_none_are_sealed_at_flush(sessions, notes) -> None:  # type: ignore[no-untyped-def]
    first, _ = notes
    async with sessions() as session:
        note = Note(engagement_id=first, text="first", email="x@example.org")
        session.add(note)
        await session.commit()
        note.text, note.email = "second", None
        await session.commit()
    async with sessions() as session:
        again = (await session.execute(select(Note))).scalar_one()
    assert (again.text, again.email, again.email_index) == ("second", None, None)


async def test_bulk_and_core_inserts(sessions, notes) -> None:  # type: ignore[no-untyped-def]
    first, second = notes
    async with sessions() as session:
        # ORM bulk insert: plaintext by field name, sealed per row with that row's key.
        await session.execute(insert(Note), [{"engagement_id": first, "text": "bulk 1"},
                                             {"engagement_id": second, "text": "bulk 2", "email": "b@x.org"}])
        # Core on the connection: the caller seals.
        key = await keyring_of(session).for_engagement(session, first)
        conn = await session.connection()
        await conn.execute(insert(Note.__table__), [key.values(Note, {"engagement_id": first, "text": "core"})])
        await session.commit()
    async with sessions() as session:
        rows = (await session.execute(select(Note).order_by(Note.id))).scalars().all()
        raw = (await session.execute(select(Note.text_sealed).order_by(Note.id)
                                     .execution_options(open_sealed=False))).scalars().all()
    assert [n.text for n in rows] == ["bulk 1", "bulk 2", "core"]
    assert crypto.key_id_of(raw[0]) == crypto.key_id_of(raw[2]) != crypto.key_id_of(raw[1])
    assert rows[1].email_index is not None


async def test_plaintext_never_reaches_a_sealed_column(sessions, notes) -> None:  # type: ignore[no-untyped-def]
    first, _ = notes
    async with sessions() as session:
        conn = await session.connection()
        with pytest.raises(Exception, match="takes only sealed values"):
            await conn.execute(insert(Note.__table__), [{"engagement_id": first, "text_sealed": "plain"}])
    async with sessions() as session:
        with pytest.raises(Exception, match="takes only sealed values"):
            await session.execute(update(Note).values(text="plain"))


async def test_a_ciphertext_moved_to_another_engagement_does_not_open(sessions, notes) -> None:  # type: ignore[no-untyped-def]
    first, second = notes
    async with sessions() as session:
        session.add_all([Note(engagement_id=first, text="mine"), Note(engagement_id=second, text="theirs")])
        await session.commit()
    async with sessions() as session:
        stmt = select(Note.id, Note.text_sealed).order_by(Note.id).execution_options(open_sealed=False)
        mine, theirs = (await session.execute(stmt)).all()
        key = await keyring_of(session).for_engagement(session, second)
        with pytest.raises(CryptoError, match="sealed with data key"):
            key.open(Note.text, mine[1])
        # Another column of the same row does not take it either (its place is bound in).
        with pytest.raises(CryptoError, match="does not open"):
            key.open(Note.email, theirs[1])
        assert key.open(Note.text, theirs[1]) == "theirs"


async def test_keys_are_cached_and_new_keys_only_after_commit(engine, keyring, clock, notes) -> None:  # type: ignore[no-untyped-def]
    first, _ = notes
    sessions = session_factory(engine, None, keyring)
    async with sessions() as session:
        key = await keyring.for_engagement(session, first)  # made with the engagement, cached since
    assert keyring.cached(key.id) is not None
    async with sessions() as session:  # a key made in a transaction that rolls back is forgotten
        made = await session.run_sync(lambda s: keyring.new_key_sync(s, "engagement"))
        await session.rollback()
    assert keyring.cached(made.id) is None
    fresh = Keyring(keyring.masters, now=clock.now)
    async with session_factory(engine, None, fresh)() as session:
        assert (await fresh.for_engagement(session, first)).id == key.id  # the stored key, unwrapped again


async def test_plaintext_mode_stores_readable_values_in_the_same_form(engine, clock, notes) -> None:  # type: ignore[no-untyped-def]
    first, _ = notes
    plain = session_factory(engine, None, Keyring(None, now=clock.now))
    async with plain() as session:
        session.add(Note(engagement_id=first, text=MARK))
        await session.commit()
    assert MARK.encode() in (await _raw(engine))[0]
    async with plain() as session:
        assert (await session.execute(select(Note.text))).scalar_one() == MARK


async def test_a_wrong_master_key_is_a_clear_error(engine, keyring, clock, notes) -> None:  # type: ignore[no-untyped-def]
    first, _ = notes
    async with session_factory(engine, None, keyring)() as session:
        session.add(Note(engagement_id=first, text="secret"))
        await session.commit()
    wrong = Keyring(MasterKeys([MasterKey("test", bytes(32))]), now=clock.now)
    async with session_factory(engine, None, wrong)() as session:
        with pytest.raises(CryptoError, match="master key 'test' does not open data key"):
            await session.execute(select(Note))
    other = Keyring(MasterKeys([MasterKey("other", bytes(32))]), now=clock.now)
    async with session_factory(engine, None, other)() as session:
        with pytest.raises(KeyUnavailable, match="wrapped only by master key"):
            await session.execute(select(Note))


async def test_a_session_without_keyring_says_how_to_get_one(engine, notes) -> None:  # type: ignore[no-untyped-def]
    first, _ = notes
    async with session_factory(engine)() as session:
        session.add(Note(engagement_id=first, text="x"))
        with pytest.raises(SealedError, match="no keyring"):
            await session.flush()


# --- the primitives --------------------------------------------------------------------


def test_sealed_values_name_their_key_and_bind_their_place() -> None:
    key = DataKey(7, bytes(32))
    blob = key.seal("note.text", "text", "hallo")
    assert crypto.key_id_of(blob) == 7 and blob.startswith(crypto.MAGIC)
    assert key.open("note.text", "text", blob) == "hallo"
    assert key.seal("note.text", "text", "hallo") != blob  # a fresh nonce every time
    with pytest.raises(CryptoError, match="note.email"):
        key.open("note.email", "text", blob)
    damaged = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(CryptoError, match="damaged"):
        key.open("note.text", "text", damaged)
    # Plaintext from before encryption, and plaintext mode's form, read as they are.
    assert key.open("note.text", "text", "oud".encode()) == "oud"
    assert key.open("note.text", "json", crypto.PLAIN_KEY.seal("x.y", "json", {"a": 1})) == {"a": 1}


def test_master_keys_parse_and_wrap() -> None:
    made = crypto.new_master_key("k2027")
    keys = crypto.parse_master_keys(f"# rotated in 2027\n{made.line()}\n{MasterKey('old', bytes(32)).line()}",
                                    "test")
    masters = MasterKeys(keys)
    assert masters.current == "k2027" and masters.ids == ("k2027", "old")
    master_id, wrapped = masters.wrap(3, b"s" * 32)
    assert masters.unwrap(3, master_id, wrapped) == b"s" * 32
    with pytest.raises(CryptoError, match="does not open data key 4"):
        masters.unwrap(4, master_id, wrapped)  # a wrapped key moved to another data key
    for bad, message in [("nokey", "id:key"), ("a:short", "32 bytes"), (f"{made.line()},{made.line()}", "twice"),
                         ("bad id:" + made.line().split(":")[1], "id:key")]:
        with pytest.raises(CryptoError, match=message):
            crypto.parse_master_keys(bad, "test")


def test_search_tokens_cover_prefixes_case_and_accents() -> None:
    key = DataKey(1, bytes(32))
    tokens = set(crypto.text_tokens(key, "Café WERKDRUK, ik").split())

    def hit(query: str) -> bool:
        wanted, longer = crypto.query_tokens(key, query)
        return set(wanted) <= tokens and crypto.matches("Café WERKDRUK, ik", longer)

    assert all(hit(q) for q in ["cafe", "CAF", "werk", "werkdruk", "WerkDr", "ik", "werkdruk café"])
    assert not any(hit(q) for q in ["werkdrukte", "wer k", "thee", "i"])
    assert crypto.text_tokens(DataKey(2, bytes(31) + b"x"), "werk") != crypto.text_tokens(key, "werk")


async def test_streamed_rows_are_opened_as_they_come(engine, keyring, clock, notes) -> None:  # type: ignore[no-untyped-def]
    first, second = notes
    async with session_factory(engine, None, keyring)() as session:
        session.add_all([Note(engagement_id=e, text=f"row {n}") for n in range(30) for e in (first, second)])
        await session.commit()
    fresh = Keyring(keyring.masters, now=clock.now)  # nothing cached: keys are read mid-stream
    async with session_factory(engine, None, fresh)() as session:
        stream = await session.stream_scalars(select(Note).order_by(Note.id).execution_options(yield_per=7))
        texts = [note.text async for note in stream]
    assert texts == [f"row {n}" for n in range(30) for _ in (first, second)]
