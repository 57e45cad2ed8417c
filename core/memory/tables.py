"""Memory tables, and the full-text index each SQL dialect gets.

* `memory_entries`: the live entry of each (namespace, key): the value as compact JSON text, the flattened text
  the search indexes, tags, access level, owner, TTL, version, access counters.
* `memory_versions`: every kept version of every key (the live one included), so `?version=N` reads come from one
  place. Keyed by (namespace, key, version): the numbering survives a plain (non-cascading) delete.
* `memory_tags`: one row per (entry, tag), for exact tag filters through an index.

Full-text search uses the database's own engine, created by DDL when `memory_entries` is created:
SQLite gets an FTS5 table over (key, search_text, tags_text) with the entries as external content, kept in step by
triggers, so every write path (the service, a bulk load) indexes the same way; PostgreSQL gets a generated
`tsvector` column (key and tags weighted above the value) with a GIN index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Column, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event
from sqlmodel import Field, SQLModel

# Text longer than this is not indexed (PostgreSQL's tsvector is limited to 1 MB); it is still stored and returned.
SEARCH_TEXT_MAX = 100_000
# No stemming, on either engine: both then split words alike (so results agree across backends), and a prefix
# query means what it says (with a stemmer, `deploy*` misses `deployment`, which is indexed as `deploy`…`deploi`).
FTS_TOKENIZER = "unicode61 remove_diacritics 2"
PG_TS_CONFIG = "simple"


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


_SQLITE_FTS = [
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS memory_fts USING fts5(
        key, search_text, tags_text, content='memory_entries', content_rowid='pk',
        tokenize='{FTS_TOKENIZER}', prefix='2 3')""",
    """CREATE TRIGGER IF NOT EXISTS memory_fts_ai AFTER INSERT ON memory_entries BEGIN
        INSERT INTO memory_fts(rowid, key, search_text, tags_text)
        VALUES (new.pk, new.key, new.search_text, new.tags_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS memory_fts_ad AFTER DELETE ON memory_entries BEGIN
        INSERT INTO memory_fts(memory_fts, rowid, key, search_text, tags_text)
        VALUES ('delete', old.pk, old.key, old.search_text, old.tags_text);
    END""",
    """CREATE TRIGGER IF NOT EXISTS memory_fts_au AFTER UPDATE OF key, search_text, tags_text ON memory_entries
    BEGIN
        INSERT INTO memory_fts(memory_fts, rowid, key, search_text, tags_text)
        VALUES ('delete', old.pk, old.key, old.search_text, old.tags_text);
        INSERT INTO memory_fts(rowid, key, search_text, tags_text)
        VALUES (new.pk, new.key, new.search_text, new.tags_text);
    END""",
    # bm25 weights per column: a match in the key counts most, then tags, then the value's text.
    "INSERT INTO memory_fts(memory_fts, rank) VALUES ('rank', 'bm25(4.0, 1.0, 2.0)')",
]
_PG_FTS = [
    f"""ALTER TABLE memory_entries ADD COLUMN IF NOT EXISTS search_vector tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('{PG_TS_CONFIG}', coalesce(key, '')), 'A')
        || setweight(to_tsvector('{PG_TS_CONFIG}', coalesce(tags_text, '')), 'B')
        || setweight(to_tsvector('{PG_TS_CONFIG}', coalesce(search_text, '')), 'C')) STORED""",
    "CREATE INDEX IF NOT EXISTS ix_memory_entries_search ON memory_entries USING GIN (search_vector)",
]
for _statement in _SQLITE_FTS:
    event.listen(MemoryEntryRow.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
for _statement in _PG_FTS:
    event.listen(MemoryEntryRow.__table__, "after_create", DDL(_statement).execute_if(dialect="postgresql"))
