"""Personal data sealed: its columns become binary, the full-text index holds keyed tokens.

Upgrade keeps every value readable: a value without the sealed header is plaintext from
before (``ecoach keys encrypt-existing`` seals them afterwards and builds their search
tokens). The text columns change type on PostgreSQL in place; SQLite, which cannot change
a column's type, gets a new column of the same name and the values copied. The full-text
index over ``body_text`` (SQLite FTS5, PostgreSQL GIN) is replaced by one over
``search_tokens``; the lookups by address use keyed hashes (``*_index``).

Downgrade needs the master key when values are encrypted: it opens them to plaintext.

Revision ID: 0401
Revises: 0400
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0401"
down_revision = "0400"
branch_labels = None
depends_on = None

# table -> (column, type before, NOT NULL)
TEXT_COLUMNS: dict[str, list[tuple[str, str, bool]]] = {
    "coachee": [("name", "VARCHAR(200)", True), ("email", "VARCHAR(320)", False)],
    "engagement": [("sponsor_name", "VARCHAR(200)", False), ("sponsor_email", "VARCHAR(320)", False),
                   ("last_snippet", "VARCHAR(200)", False)],
    "exchange": [("author_name", "VARCHAR(200)", True), ("body_text", "TEXT", True), ("body_html", "TEXT", True),
                 ("meta", "JSON", False)],
    "mail_outbox": [("recipient", "VARCHAR(320)", True)],
    "quarantine": [("from_address", "VARCHAR(320)", False), ("subject", "VARCHAR(1000)", True),
                   ("snippet", "TEXT", True)],
    "attachment": [("filename", "VARCHAR(255)", True)],
    "booking": [("attendee_name", "VARCHAR(200)", True), ("attendee_email", "VARCHAR(320)", False),
                ("attendee_message", "TEXT", False)],
    "nudge_plan": [("templates", "JSON", False), ("goal", "VARCHAR(500)", False)],
    "nudge": [("text", "TEXT", False)],
    "action_step": [("text", "VARCHAR(500)", True)],
}
BINARY_COLUMNS = [("attachment", "data"), ("mail_source", "raw"), ("mail_outbox", "raw"), ("quarantine", "raw")]
INDEXED = [("coachee", "email"), ("mail_outbox", "recipient"), ("quarantine", "from_address"),
           ("booking", "attendee_email")]
GUARDED = ("engagement_id, channel, direction, author, author_name, body_text, body_html, "
           "created_at, external_id, meta")
MAGIC_HEX = "EC4B"


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_coachee_email_lower", table_name="coachee")
    op.drop_index("ix_mail_outbox_recipient", table_name="mail_outbox")
    _drop_search(sqlite)
    if sqlite:
        op.execute("DROP TRIGGER exchange_append_only")
    for table, columns in TEXT_COLUMNS.items():
        for column, _old, not_null in columns:
            _to_binary(sqlite, table, column, not_null, json=_old == "JSON")
    for table, column in BINARY_COLUMNS:
        _mark_plain_blobs(sqlite, table, column)
    for table, column in INDEXED:
        op.add_column(table, sa.Column(f"{column}_index", sa.String(32)))
        op.create_index(f"ix_{table}_{column}_index", table, [f"{column}_index"])
    op.create_index("ix_mail_outbox_recipient", "mail_outbox", ["recipient_index", "id"])
    op.add_column("exchange", sa.Column("search_tokens", sa.Text()))
    _create_search(sqlite)
    _append_only(sqlite)


def _to_binary(sqlite: bool, table: str, column: str, not_null: bool, *, json: bool) -> None:
    if not sqlite:
        source = f"{column}::text" if json else column
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE bytea USING convert_to({source}, 'UTF8')")
        return
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {column} TO {column}__plain")
    required = " NOT NULL DEFAULT X''" if not_null else ""
    op.execute(f"ALTER TABLE {table} ADD COLUMN {column} BLOB{required}")
    op.execute(f"UPDATE {table} SET {column} = CAST({column}__plain AS BLOB)")
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}__plain")


def _mark_plain_blobs(sqlite: bool, table: str, column: str) -> None:
    """A stored file that happens to begin like a sealed value gets plaintext's header, so
    it is never taken for one (text cannot begin so: 0xEC 'K' is not UTF-8)."""
    bind = op.get_bind()
    key = "exchange_id" if table == "mail_source" else "id"
    starts = (f"substr({column}, 1, 2) = X'{MAGIC_HEX}'" if sqlite
              else f"substring({column} from 1 for 2) = '\\x{MAGIC_HEX.lower()}'::bytea")
    rows = bind.execute(sa.text(f"SELECT {key}, {column} FROM {table} WHERE {starts}")).all()
    for row_id, value in rows:
        bind.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE {key} = :id"),
                     {"v": bytes.fromhex(MAGIC_HEX) + b"\x00" + bytes(value), "id": row_id})


def _drop_search(sqlite: bool) -> None:
    if sqlite:
        for trigger in ("exchange_fts_insert", "exchange_fts_delete", "exchange_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE exchange_fts")
    else:
        op.execute("DROP INDEX ix_exchange_fts")


def _create_search(sqlite: bool) -> None:
    """The full-text index over the keyed tokens (each a nine-letter word): no readable text."""
    if not sqlite:
        op.execute("CREATE INDEX ix_exchange_fts ON exchange USING gin (to_tsvector('simple', search_tokens))")
        return
    op.execute("CREATE VIRTUAL TABLE exchange_fts USING fts5("
               "search_tokens, content='exchange', content_rowid='id', tokenize='ascii')")
    op.execute("CREATE TRIGGER exchange_fts_insert AFTER INSERT ON exchange WHEN new.search_tokens IS NOT NULL "
               "BEGIN INSERT INTO exchange_fts(rowid, search_tokens) VALUES (new.id, new.search_tokens); END")
    op.execute("CREATE TRIGGER exchange_fts_delete AFTER DELETE ON exchange WHEN old.search_tokens IS NOT NULL "
               "BEGIN INSERT INTO exchange_fts(exchange_fts, rowid, search_tokens) "
               "VALUES ('delete', old.id, old.search_tokens); END")
    op.execute("CREATE TRIGGER exchange_fts_update AFTER UPDATE OF search_tokens ON exchange BEGIN "
               "INSERT INTO exchange_fts(exchange_fts, rowid, search_tokens) SELECT 'delete', old.id, "
               "old.search_tokens WHERE old.search_tokens IS NOT NULL; "
               "INSERT INTO exchange_fts(rowid, search_tokens) SELECT new.id, new.search_tokens "
               "WHERE new.search_tokens IS NOT NULL; END")


def _append_only(sqlite: bool, *, reseal: bool = True) -> None:
    """Only the delivery state of an exchange may change; ``ecoach keys encrypt-existing``
    and ``rotate`` may replace a value by its sealed form (SQLite: they drop and recreate
    this trigger in their transaction; PostgreSQL: ``SET LOCAL ecoach.reseal = 'on'``)."""
    if sqlite:
        op.execute(f"CREATE TRIGGER exchange_append_only BEFORE UPDATE OF {GUARDED} ON exchange "
                   "BEGIN SELECT RAISE(ABORT, 'the logbook is append-only'); END")
        return
    columns = [c.strip() for c in GUARDED.split(",")]
    allow = "IF current_setting('ecoach.reseal', true) = 'on' THEN RETURN NEW; END IF;" if reseal else ""
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION exchange_append_only() RETURNS trigger AS $$
        BEGIN
          {allow}
          IF ({", ".join("NEW." + c for c in columns)}) IS DISTINCT FROM ({", ".join("OLD." + c for c in columns)}) THEN
            RAISE EXCEPTION 'the logbook is append-only';
          END IF;
          RETURN NEW;
        END $$ LANGUAGE plpgsql
        """
    )


# --- downgrade -----------------------------------------------------------------------------


def downgrade() -> None:
    from ecoach.logbook.reseal import open_everything

    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        op.execute("DROP TRIGGER exchange_append_only")
    open_everything(op.get_bind())  # every sealed value back to plaintext (needs the master key)
    _drop_search(sqlite)
    op.drop_index("ix_mail_outbox_recipient", table_name="mail_outbox")
    for table, column in INDEXED:
        op.drop_index(f"ix_{table}_{column}_index", table_name=table)
        op.drop_column(table, f"{column}_index")
    op.drop_column("exchange", "search_tokens")
    for table, columns in TEXT_COLUMNS.items():
        for column, old, not_null in columns:
            _to_text(sqlite, table, column, old, not_null)
    op.create_index("ix_mail_outbox_recipient", "mail_outbox", ["recipient", "id"])
    op.create_index("ix_coachee_email_lower", "coachee", [sa.text("lower(email)")])
    _restore_search(sqlite)
    _append_only(sqlite, reseal=False)


def _to_text(sqlite: bool, table: str, column: str, old: str, not_null: bool) -> None:
    if not sqlite:
        target = "jsonb" if old == "JSON" else old
        cast = f"convert_from({column}, 'UTF8')" + ("::jsonb" if old == "JSON" else "")
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {target} USING {cast}")
        return
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {column} TO {column}__sealed")
    required = " NOT NULL DEFAULT ''" if not_null else ""
    op.execute(f"ALTER TABLE {table} ADD COLUMN {column} {old}{required}")
    op.execute(f"UPDATE {table} SET {column} = CAST({column}__sealed AS TEXT)")
    op.execute(f"ALTER TABLE {table} DROP COLUMN {column}__sealed")


def _restore_search(sqlite: bool) -> None:
    if not sqlite:
        op.execute("CREATE INDEX ix_exchange_fts ON exchange USING gin (to_tsvector('simple', body_text))")
        return
    op.execute("CREATE VIRTUAL TABLE exchange_fts USING fts5(body_text, content='exchange', content_rowid='id', "
               "tokenize='unicode61 remove_diacritics 2')")
    op.execute("INSERT INTO exchange_fts(exchange_fts) VALUES ('rebuild')")
    op.execute("CREATE TRIGGER exchange_fts_insert AFTER INSERT ON exchange BEGIN "
               "INSERT INTO exchange_fts(rowid, body_text) VALUES (new.id, new.body_text); END")
    op.execute("CREATE TRIGGER exchange_fts_delete AFTER DELETE ON exchange BEGIN "
               "INSERT INTO exchange_fts(exchange_fts, rowid, body_text) VALUES ('delete', old.id, old.body_text); END")
