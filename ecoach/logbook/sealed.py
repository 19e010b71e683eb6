"""Personal data in the database: sealed columns.

A model stores a personal field encrypted by declaring it ``sealed()`` and saying whose
data key seals its rows (``__sealed_scope__``)::

    class SessionNote(Base):
        __tablename__ = "session_note"
        __sealed_scope__ = Scope.engagement("engagement_id")

        id: Mapped[int] = mapped_column(BigId, primary_key=True)
        engagement_id: Mapped[int] = mapped_column(ForeignKey("engagement.id"))
        text: Mapped[str] = sealed()                     # str; sealed(bytes), sealed(dict) (JSON)
        email: Mapped[str | None] = sealed(index=True)   # plus email_index, for lookups

``note.text`` reads and writes plaintext; the database column ``text`` holds only AES-GCM
ciphertext (``note.text_sealed``). Sessions made by ``ecoach.logbook.db.session_factory``
seal at flush and open what ORM queries load (``ecoach.logbook.sealing``). Statements that
bypass the ORM (a Core ``insert`` on a connection) seal with the data key themselves:
``key.seal(SessionNote.text, "...")`` with ``key = await keyring_of(session).for_engagement(...)``.

A sealed column cannot be compared in SQL (its ciphertext differs every time): look rows
up by another column, or by the keyed hash of ``index=True`` (``await keyring.blind(
session, SessionNote.email, value)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import LargeBinary, String
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import MappedColumn, mapped_column
from sqlalchemy.types import TypeDecorator

from ecoach.core.crypto import KINDS, MAGIC, PLAIN_KEY, key_id_of

KEYRING = "ecoach.keyring"  # session.info key: the Keyring (set by the session factory)
KEYS_SLOT = "_sealed_keys"  # instance __dict__: the data keys its loaded values need, by id


class SealedError(Exception):
    """Personal data was about to be stored or read the wrong way; the message says how to
    do it right."""


class Ciphertext(bytes):
    """A sealed value as stored; ``place`` and ``kind`` say how to open it."""

    place: str
    kind: str


def ciphertext(raw: bytes, place: str, kind: str) -> Ciphertext:
    value = Ciphertext(raw)
    value.place, value.kind = place, kind
    return value


class Pending:
    """A plaintext value assigned to a sealed field and not yet sealed (until the flush)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class SealedType(TypeDecorator[bytes]):
    """A sealed column: LargeBinary holding ciphertext. Refuses anything that is not sealed."""

    impl = LargeBinary
    cache_ok = True

    def __init__(self, kind: str = "text", place: str = "") -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"sealed kind must be one of {KINDS}")
        self.kind = kind
        self.place = place

    def process_bind_param(self, value: Any, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if isinstance(value, Pending):
            raise SealedError(f"{self.place}: not sealed yet; it is sealed when a session made by "
                              "ecoach.logbook.db.session_factory (with a keyring) flushes it")
        if isinstance(value, (bytes, bytearray)) and bytes(value[:2]) == MAGIC:
            return bytes(value)
        raise SealedError(f"{self.place} holds personal data and takes only sealed values: assign the "
                          f"model's field, or seal with key.seal(Model.field, value); got {type(value).__name__}")

    def process_result_value(self, value: Any, dialect: Dialect) -> Ciphertext | None:
        if value is None:
            return None
        raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        return ciphertext(raw, self.place, self.kind)


@dataclass(frozen=True)
class FieldSpec:
    """One sealed field of a model."""

    name: str  # the plaintext attribute, e.g. "text"
    column: str  # the ciphertext attribute, e.g. "text_sealed"
    place: str  # "table.column": bound into the ciphertext
    kind: str  # text, bytes, json
    index: str | None  # the blind index attribute, e.g. "email_index"
    purpose: str = ""  # what the index hashes for: indexes of one purpose compare equal


    @property
    def slot(self) -> str:
        return f"_plain_{self.name}"


class _SealedField:
    def __init__(self, kind: str, column: MappedColumn[Any], nullable: bool | None, index: bool | str) -> None:
        self.kind, self.column, self.nullable, self.index = kind, column, nullable, index


def sealed(kind: type | str = str, *, nullable: bool | None = None, index: bool | str = False) -> Any:
    """A personal field stored sealed. ``kind``: ``str`` (text), ``bytes`` or ``dict``
    (any JSON value). ``nullable`` defaults to whether the annotation allows None.
    ``index=True`` adds ``<name>_index``: a keyed hash of the trimmed, casefolded value;
    ``index="address"`` names its purpose, so that indexes of one purpose in different
    tables compare equal (e-mail addresses: "address")."""
    names = {str: "text", bytes: "bytes", dict: "json", list: "json"}
    kind_name = names.get(kind, kind) if isinstance(kind, type) else kind
    if kind_name not in KINDS:
        raise ValueError(f"sealed(): kind must be str, bytes or dict, not {kind!r}")
    return _SealedField(str(kind_name), mapped_column(SealedType(str(kind_name))), nullable, index)


class PlainAttribute:
    """The plaintext face of a sealed field (``note.text``). On the class it is the column
    (``Note.text`` selects and inserts the ciphertext column)."""

    def __init__(self, spec: FieldSpec) -> None:
        self.spec = spec

    def __get__(self, obj: Any, owner: type) -> Any:
        if obj is None:
            return getattr(owner, self.spec.column)
        found = obj.__dict__.get(self.spec.slot, _MISSING)
        if found is not _MISSING:
            return found
        raw = getattr(obj, self.spec.column)
        if raw is None or isinstance(raw, Pending):
            return None if raw is None else raw.value
        # Opened when first read, with the key the load attached (ecoach.logbook.sealing).
        key_id = key_id_of(raw)
        key = PLAIN_KEY if key_id is None else obj.__dict__.get(KEYS_SLOT, {}).get(key_id)
        if key is None:
            from ecoach.logbook.sealing import key_for_loaded

            key = key_for_loaded(obj, self.spec, key_id)
        value = key.open(self.spec.place, self.spec.kind, bytes(raw))
        obj.__dict__[self.spec.slot] = value
        return value

    def __set__(self, obj: Any, value: Any) -> None:
        obj.__dict__[self.spec.slot] = value
        setattr(obj, self.spec.column, None if value is None else Pending(value))
        if value is None and self.spec.index:
            setattr(obj, self.spec.index, None)


_MISSING = object()


class Sealable:
    """Mixed into the declarative base (``ecoach.logbook.models.Base``): expands the
    ``sealed()`` fields of every model before SQLAlchemy maps it."""

    def __init_subclass__(cls, **kw: Any) -> None:
        expand_sealed(cls)
        super().__init_subclass__(**kw)


def expand_sealed(cls: type) -> None:
    """Called for every model class before SQLAlchemy maps it: each ``sealed()`` field
    becomes a ciphertext column ``<name>_sealed`` (database column ``<name>``), an optional
    index column, and the plaintext attribute ``<name>``."""
    fields = {k: v for k, v in vars(cls).items() if isinstance(v, _SealedField)}
    if not fields:
        return
    annotations = vars(cls).get("__annotations__", {})
    table = vars(cls).get("__tablename__", cls.__name__.lower())
    specs: dict[str, FieldSpec] = dict(getattr(cls, "__sealed_fields__", {}))
    for name, field in fields.items():
        annotation = str(annotations.pop(name, ""))
        nullable = field.nullable if field.nullable is not None else ("None" in annotation or "Optional" in annotation)
        column = field.column.column
        column.name, column.nullable = name, nullable
        column.type.place = f"{table}.{name}"  # type: ignore[attr-defined]
        type.__setattr__(cls, f"{name}_sealed", field.column)
        index = None
        if field.index:
            index = f"{name}_index"
            type.__setattr__(cls, index, mapped_column(index, String(32), index=True, nullable=True))
        purpose = field.index if isinstance(field.index, str) else f"{table}.{name}"
        spec = FieldSpec(name, f"{name}_sealed", f"{table}.{name}", field.kind, index, purpose)
        type.__setattr__(cls, name, PlainAttribute(spec))
        specs[name] = spec
    type.__setattr__(cls, "__sealed_fields__", specs)
    if getattr(cls, "__sealed_scope__", None) is None:
        raise TypeError(f"{cls.__name__} has sealed fields: set __sealed_scope__ (whose data key seals them)")


def sealed_fields(cls: type) -> dict[str, FieldSpec]:
    return getattr(cls, "__sealed_fields__", {})


def spec_of(attribute: Any) -> FieldSpec:
    """The sealed field of a class attribute (``Coachee.email``)."""
    key = getattr(attribute, "key", None)
    for spec in sealed_fields(getattr(attribute, "class_", type(None))).values():
        if spec.column == key:
            return spec
    raise SealedError(f"{attribute!r} is not a sealed field")


def index_value(value: str) -> str:
    """What a blind index hashes: the value trimmed and casefolded."""
    return value.strip().casefold()


# --- whose data key seals a row ------------------------------------------------------------


@dataclass(frozen=True)
class ScopeRef:
    """A data key's owner: ("engagement", 5), ("coachee", 3), ("coach", 2), ("exchange", 9)
    (its engagement's key), ("key", 12) (a data key by id), ("practice", 0)."""

    kind: str
    id: int


@dataclass(frozen=True)
class NewKey:
    """The row owns a data key of its own, made when it is first flushed."""

    kind: str
    column: str


class Scope:
    """Whose data key seals a model's rows: the first option whose column is set.

    ``Scope.engagement()`` | ``Scope.coach()`` | ``Scope.practice()`` reads "the engagement's
    key; without an engagement, the coach's; without a coach, the practice's"."""

    def __init__(self, *options: tuple[str, str | None]) -> None:
        self.options = options

    def __or__(self, other: Scope) -> Scope:
        return Scope(*self.options, *other.options)

    @classmethod
    def engagement(cls, column: str = "engagement_id") -> Scope:
        return cls(("engagement", column))

    @classmethod
    def exchange(cls, column: str = "exchange_id") -> Scope:
        return cls(("exchange", column))

    @classmethod
    def coachee(cls, column: str = "coachee_id") -> Scope:
        return cls(("coachee", column))

    @classmethod
    def coach(cls, column: str = "coach_id") -> Scope:
        return cls(("coach", column))

    @classmethod
    def practice(cls) -> Scope:
        """The practice-wide key: personal data that belongs to nobody yet."""
        return cls(("practice", None))

    @classmethod
    def own(cls, kind: str, column: str = "data_key_id") -> Scope:
        """The row holds its own data key's id in ``column`` (made at its first flush): an
        engagement, a coachee. Erasing the row destroys that key."""
        return cls((f"own:{kind}", column))

    def ref(self, get: Any) -> ScopeRef | NewKey:
        """For a row (``get(column)`` reads a column of it)."""
        for kind, column in self.options:
            if column is None:
                return ScopeRef(kind, 0)
            value = get(column)
            if kind.startswith("own:"):
                return ScopeRef("key", value) if value is not None else NewKey(kind[4:], column)
            if value is not None:
                return ScopeRef(kind, int(value))
        raise SealedError(f"no data key for this row: none of {[c for _, c in self.options]} is set")
