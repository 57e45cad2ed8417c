"""Memory tables, and the full-text index each SQL dialect gets.

* `memory_entries`: the live entry of each (namespace, key): the value as compact JSON text, the flattened text
  the search indexes, tags, access level, owner, TTL, version, access counters.
* `memory_versions`: every kept version of every key (the live one included), so `?version=N` reads come from one
  place. Keyed by (namespace, key, version): the numbering survives a plain (non-cascading) delete.
* `memory_tags`: one row per (entry, tag), for exact tag filters through an index.

Full-text search uses the database's own engine, created by DDL when `memory_entries` is created:
SQLite gets an FTS5 table over (key, search_text, tags_text, filter_terms) with the entries as external content,
kept in step by triggers, so every write path (the service, a bulk load) indexes the same way; PostgreSQL gets a
generated `tsvector` column (key and tags weighted above the value) with a GIN index.

`filter_terms` holds one exact token for the entry's namespace and one per tag (`n<hex>`, `t<hex>`: the name's
UTF-8 bytes in hex, so every name is one token that no other name and no word of the text can produce). A
namespace or tag filter is then part of the full-text query itself (`filter_terms : "n6e732d37"`): the engine
intersects the posting lists instead of ranking every match and joining each to its row to test the filter.
Search words are restricted to the other columns, and the column's ranking weight is 0. PostgreSQL indexes the
same column with a GIN index of its own, for tag filters (the namespace has its B-tree index).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DDL, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, text
from sqlmodel import Field, SQLModel

# Text longer than this is not indexed (PostgreSQL's tsvector is limited to 1 MB); it is still stored and returned.
SEARCH_TEXT_MAX = 100_000
# No stemming, on either engine: both then split words alike (so results agree across backends), and a prefix
# query means what it says (with a stemmer, `deploy*` misses `deployment`, which is indexed as `deploy`…`deploi`).
FTS_TOKENIZER = "unicode61 remove_diacritics 2"
PG_TS_CONFIG = "simple"
# bm25 weights per FTS5 column (key, search_text, tags_text, filter_terms): a match in the key counts most, then
# tags, then the value's text; the filter tokens are never ranked.
FTS_WEIGHTS = (4.0, 1.0, 2.0, 0.0)
FTS_SEARCH_COLUMNS = "{key search_text tags_text}"


def namespace_term(namespace: str) -> str:
    return "n" + namespace.encode().hex()


def tag_term(tag: str) -> str:
    return "t" + tag.encode().hex()


def filter_terms(namespace: str, tags: list[str]) -> str:
    """The `filter_terms` column: exact tokens for the namespace and each tag (see the module docstring)."""
    return " ".join([namespace_term(namespace), *(tag_term(tag) for tag in tags)])


def _ts() -> Column:
    return Column(DateTime(timezone=True), nullable=False)


def _ts_null() -> Column:
    return Column(DateTime(timezone=True), nullable=True)


class MemoryEntryRow(SQLModel, table=True):
    __tablename__ = "memory_entries"
    __table_args__ = (
        UniqueConstraint("namespace", "key", name="uq_memory_entries_namespace_key"),
        Index("ix_memory_entries_owner_size", "owner", "size"),
        Index("ix_memory_entries_expires_at", "expires_at"),
        Index("ix_memory_entries_namespace_updated", "namespace", "updated_at"),
        Index("ix_memory_entries_access_owner", "access_level", "owner"),  # the private entries others hold
        {"sqlite_autoincrement": True},  # row ids are never reused (FTS rowids, pending access counts)
    )
    pk: int | None = Field(default=None, primary_key=True)  # the FTS rowid
    id: str = Field(sa_column=Column(String, nullable=False, unique=True))  # mem-<ULID>, what clients see
    namespace: str
    key: str
    value_json: str = Field(sa_column=Column(Text, nullable=False))
    search_text: str = Field(sa_column=Column(Text, nullable=False))
    tags_text: str = ""
    filter_terms: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    access_level: str = "shared"  # private | shared | public
    owner: str
    ttl: int | None = None
    expires_at: datetime | None = Field(default=None, sa_column=_ts_null())
    version: int = 1
    size: int = 0
    created_at: datetime = Field(sa_column=_ts())
    updated_at: datetime = Field(sa_column=_ts())
    accessed_count: int = 0
    last_accessed: datetime | None = Field(default=None, sa_column=_ts_null())


class MemoryVersionRow(SQLModel, table=True):
    __tablename__ = "memory_versions"
    __table_args__ = (Index("ix_memory_versions_expires_at", "expires_at"),)
    namespace: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    version: int = Field(primary_key=True)
    entry_id: str
    value_json: str = Field(sa_column=Column(Text, nullable=False))
    tags_text: str = ""
    access_level: str = "shared"
    owner: str
    author: str | None = None  # who wrote this version (the owner, or another writer of a shared entry)
    size: int = 0
    expires_at: datetime | None = Field(default=None, sa_column=_ts_null())
    created_at: datetime = Field(sa_column=_ts())


class MemoryTagRow(SQLModel, table=True):
    __tablename__ = "memory_tags"
    __table_args__ = (Index("ix_memory_tags_tag_entry", "tag", "entry_pk"),)
    entry_pk: int = Field(sa_column=Column(Integer, ForeignKey("memory_entries.pk", ondelete="CASCADE"),
                                           primary_key=True))
    tag: str = Field(primary_key=True)


_FTS_COLUMNS = "key, search_text, tags_text, filter_terms"
_SQLITE_FTS = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(
        {_FTS_COLUMNS}, content='memory_entries', content_rowid='pk',
        tokenize='{FTS_TOKENIZER}', prefix='2 3')""",
    f"""CREATE TRIGGER IF NOT EXISTS memory_fts_ai AFTER INSERT ON memory_entries BEGIN
        INSERT INTO memory_fts(rowid, {_FTS_COLUMNS})
        VALUES (new.pk, new.key, new.search_text, new.tags_text, new.filter_terms);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS memory_fts_ad AFTER DELETE ON memory_entries BEGIN
        INSERT INTO memory_fts(memory_fts, rowid, {_FTS_COLUMNS})
        VALUES ('delete', old.pk, old.key, old.search_text, old.tags_text, old.filter_terms);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS memory_fts_au AFTER UPDATE OF {_FTS_COLUMNS} ON memory_entries
    BEGIN
        INSERT INTO memory_fts(memory_fts, rowid, {_FTS_COLUMNS})
        VALUES ('delete', old.pk, old.key, old.search_text, old.tags_text, old.filter_terms);
        INSERT INTO memory_fts(rowid, {_FTS_COLUMNS})
        VALUES (new.pk, new.key, new.search_text, new.tags_text, new.filter_terms);
    END""",
]
_PG_FTS = [
    f"""ALTER TABLE memory_entries ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('{PG_TS_CONFIG}', coalesce(key, '')), 'A')
        || setweight(to_tsvector('{PG_TS_CONFIG}', coalesce(tags_text, '')), 'B')
        || setweight(to_tsvector('{PG_TS_CONFIG}', coalesce(search_text, '')), 'C')) STORED""",
    "CREATE INDEX IF NOT EXISTS ix_memory_entries_search ON memory_entries USING GIN (search_vector)",
    # Tag filters through the same exact tokens as on SQLite: the planner ANDs this index's bitmap with the search's.
    # No pending list (`fastupdate`): a row adds a few tokens, and a list scanned on every search until vacuum
    # merges it cost more than the filter saved.
    f"""CREATE INDEX IF NOT EXISTS ix_memory_entries_filter_terms ON memory_entries
        USING GIN (to_tsvector('{PG_TS_CONFIG}', filter_terms)) WITH (fastupdate = off)""",
]
for _statement in _SQLITE_FTS:
    event.listen(MemoryEntryRow.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in _PG_FTS:
    event.listen(MemoryEntryRow.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))


def _current(connection: Any) -> bool:
    if connection.dialect.name == "sqlite":
        columns = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(memory_entries)")}
        fts_columns = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(memory_fts)")}
        return "filter_terms" in columns and "filter_terms" in fts_columns
    return connection.exec_driver_sql(
        "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
        "AND table_name = 'memory_entries' AND column_name = 'filter_terms'").first() is not None


def upgrade_schema(connection: Any) -> None:
    """Bring a memory store created before `filter_terms` existed up to date: add and fill the column, and on SQLite
    re-create the FTS5 table (it gained the column) and rebuild it from the entries; on PostgreSQL create the
    column's index. Checked without a lock (cheap when current); the upgrade itself holds the database write lock
    (SQLite) or an advisory lock (PostgreSQL) and checks again, so processes starting together upgrade once."""
    dialect = connection.dialect.name
    if dialect not in ("sqlite", "postgresql") or _current(connection):
        return
    if dialect == "sqlite":
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext('stellarflow.memory.upgrade'))")
    if _current(connection):
        return
    columns = {row[1] for row in connection.exec_driver_sql("PRAGMA table_info(memory_entries)")} \
        if dialect == "sqlite" else set()
    if "filter_terms" not in columns:
        connection.exec_driver_sql("ALTER TABLE memory_entries ADD COLUMN IF NOT EXISTS filter_terms TEXT NOT NULL "
                                   "DEFAULT ''" if dialect == "postgresql" else
                                   "ALTER TABLE memory_entries ADD COLUMN filter_terms TEXT NOT NULL DEFAULT ''")
    rows = connection.exec_driver_sql("SELECT pk, namespace, tags_text FROM memory_entries").all()
    if rows:
        connection.execute(text("UPDATE memory_entries SET filter_terms = :terms WHERE pk = :pk"),
                           [{"pk": pk, "terms": filter_terms(namespace, tags.split())} for pk, namespace, tags in rows])
    if dialect == "sqlite":
        for name in ("memory_fts_ai", "memory_fts_ad", "memory_fts_au"):
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        connection.exec_driver_sql("DROP TABLE IF EXISTS memory_fts")
        for statement in _SQLITE_FTS:
            connection.exec_driver_sql(statement)
        connection.exec_driver_sql("INSERT INTO memory_fts(memory_fts) VALUES ('rebuild')")
    else:
        connection.exec_driver_sql(_PG_FTS[-1])
