"""Full-text search per SQL dialect: SQLite FTS5 ranked by bm25, PostgreSQL `tsvector` ranked by `ts_rank`.

Both take the same parsed query (core/memory/query.py) and filters, and return rows in relevance order with a
highlighted snippet of the value's text. Filters (namespace, tags, created before/after, what the caller may see,
not expired) are applied in the same statement, so `total` and the page agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, bindparam, text
from sqlalchemy.engine import Connection

from core.memory.query import Query, to_fts5, to_tsquery_sql
from core.memory.tables import PG_TS_CONFIG

# Highlight markers the databases put around matches; the service escapes the rest and turns them into <mark>.
OPEN, CLOSE = "\ue000", "\ue001"
SNIPPET_TOKENS = 16
HEADLINE_CHARS = 20_000

_COLUMNS = ("e.pk, e.id, e.namespace, e.key, e.tags_text, e.size, e.version, e.access_level, e.owner, "
            "e.created_at, e.updated_at, e.accessed_count, e.last_accessed, e.expires_at, e.ttl, "
            "substr(e.search_text, 1, 200) AS head")
_TYPES = {"created_at": DateTime(timezone=True), "updated_at": DateTime(timezone=True),
          "last_accessed": DateTime(timezone=True), "expires_at": DateTime(timezone=True), "pk": Integer(),
          "head": String(), "snip": String()}
_DT = DateTime(timezone=True)


@dataclass
class Filters:
    now: datetime
    owner: str | None  # None: an internal reader, who sees shared and public entries only
    namespace: str | None = None
    tags: list[str] = field(default_factory=list)
    before: datetime | None = None
    after: datetime | None = None

    @property
    def narrowed(self) -> bool:
        """Whether anything besides visibility and expiry filters the matches."""
        return bool(self.namespace is not None or self.tags or self.before or self.after)

    def sql(self, params: dict[str, Any]) -> tuple[str, list[str]]:
        """A WHERE fragment over alias `e`, its parameters added to `params`; also the datetime parameter names."""
        clauses = ["(e.expires_at IS NULL OR e.expires_at > :now)"]
        params["now"] = self.now
        dates = ["now"]
        if self.owner is None:
            clauses.append("e.access_level <> 'private'")
        else:
            clauses.append("(e.access_level <> 'private' OR e.owner = :owner)")
            params["owner"] = self.owner
        if self.namespace is not None:
            clauses.append("e.namespace = :namespace")
            params["namespace"] = self.namespace
        for index, tag in enumerate(self.tags):
            clauses.append(f"EXISTS (SELECT 1 FROM memory_tags t WHERE t.entry_pk = e.pk AND t.tag = :tag{index})")
            params[f"tag{index}"] = tag
        if self.before is not None:
            clauses.append("e.created_at < :before")
            params["before"] = self.before
            dates.append("before")
        if self.after is not None:
            clauses.append("e.created_at > :after")
            params["after"] = self.after
            dates.append("after")
        return " AND ".join(clauses), dates


def _statement(sql: str, dates: list[str]) -> Any:
    return text(sql).bindparams(*[bindparam(name, type_=_DT) for name in dates]).columns(
        *[], **{name: kind for name, kind in _TYPES.items() if name in sql})


def _rows(connection: Connection, sql: str, params: dict[str, Any], dates: list[str]) -> list[dict[str, Any]]:
    return [dict(row._mapping) for row in connection.execute(_statement(sql, dates), params)]


def _count(connection: Connection, sql: str, params: dict[str, Any], dates: list[str]) -> int:
    statement = text(sql).bindparams(*[bindparam(name, type_=_DT) for name in dates])
    return int(connection.execute(statement, params).scalar_one())


def _best(connection: Connection, sql: str, params: dict[str, Any], dates: list[str]) -> float:
    statement = text(sql).bindparams(*[bindparam(name, type_=_DT) for name in dates])
    return float(connection.execute(statement, params).scalar() or 0.0)


def _relevance(rows: list[dict[str, Any]], best: float) -> None:
    """Relevance in (0, 1]: the engine's score over the best match's score for this query. Raw scores are not
    comparable across queries or corpus sizes (bm25 is near zero in a tiny corpus), the ratio to the best is."""
    for row in rows:
        score = float(row["score"])
        row["relevance"] = 1.0 if best <= 1e-12 else round(max(min(score / best, 1.0), 0.0001), 4)


def search_sqlite(connection: Connection, query: Query, filters: Filters, limit: int,
                  offset: int) -> tuple[list[dict[str, Any]], int]:
    params: dict[str, Any] = {"q": to_fts5(query), "limit": limit, "offset": offset, "open": OPEN, "close": CLOSE}
    where, dates = filters.sql(params)
    base = f"FROM memory_fts JOIN memory_entries e ON e.pk = memory_fts.rowid WHERE memory_fts MATCH :q AND {where}"
    rows = _rows(connection, f"SELECT {_COLUMNS}, memory_fts.rank AS score, "
                 f"snippet(memory_fts, 1, :open, :close, '...', {SNIPPET_TOKENS}) AS snip "
                 f"{base} ORDER BY memory_fts.rank LIMIT :limit OFFSET :offset", params, dates)
    for row in rows:
        row["score"] = max(0.0, -float(row["score"]))  # bm25 is negative: lower is better
    best = rows[0]["score"] if rows and offset == 0 else _best(connection, f"SELECT max(-memory_fts.rank) {base}",
                                                                  params, dates)
    _relevance(rows, best)
    if len(rows) < limit and (rows or offset == 0):
        total = offset + len(rows)
    elif filters.narrowed:
        total = _count(connection, f"SELECT count(*) {base}", params, dates)
    else:
        # Only what the caller may not see (expired or someone else's private entries) is subtracted from the
        # index's own count: joining every match to its entry row costs ~1 ms per 1,000 matches, counting the
        # index and the few hidden rows does not.
        hidden_owner = "AND owner <> :owner " if filters.owner is not None else ""
        total = _count(connection, "SELECT count(*) FROM memory_fts WHERE memory_fts MATCH :q", params, []) - \
            _count(connection, "SELECT count(*) FROM memory_fts WHERE memory_fts MATCH :q AND rowid IN ("
                   "SELECT pk FROM memory_entries WHERE expires_at <= :now UNION "
                   f"SELECT pk FROM memory_entries WHERE access_level = 'private' {hidden_owner})", params, ["now"])
    return rows, total


def search_postgres(connection: Connection, query: Query, filters: Filters, limit: int,
                    offset: int) -> tuple[list[dict[str, Any]], int]:
    params: dict[str, Any] = {"limit": limit, "offset": offset,
                              "opts": f"StartSel={OPEN}, StopSel={CLOSE}, MaxFragments=1, MaxWords=24, MinWords=8, "
                                      "FragmentDelimiter=..."}
    tsquery = to_tsquery_sql(query, PG_TS_CONFIG, params)
    where, dates = filters.sql(params)
    base = f"FROM memory_entries e, q WHERE e.search_vector @@ q.query AND {where}"
    rows = _rows(connection, f"""
        WITH q AS (SELECT {tsquery} AS query),
        hits AS (SELECT {_COLUMNS}, ts_rank(e.search_vector, q.query, 32) AS score {base}
                 ORDER BY score DESC, e.pk LIMIT :limit OFFSET :offset)
        SELECT hits.*, ts_headline('{PG_TS_CONFIG}', substr(e.search_text, 1, {HEADLINE_CHARS}), q.query, :opts) AS snip
        FROM hits JOIN memory_entries e ON e.pk = hits.pk, q
        ORDER BY hits.score DESC, hits.pk""", params, dates)
    best = float(rows[0]["score"]) if rows and offset == 0 else _best(
        connection, f"WITH q AS (SELECT {tsquery} AS query) SELECT max(ts_rank(e.search_vector, q.query, 32)) {base}",
        params, dates)
    _relevance(rows, best)
    total = offset + len(rows) if len(rows) < limit and (rows or offset == 0) else \
        _count(connection, f"WITH q AS (SELECT {tsquery} AS query) SELECT count(*) {base}", params, dates)
    return rows, total


def list_filtered(connection: Connection, filters: Filters, limit: int,
                  offset: int) -> tuple[list[dict[str, Any]], int]:
    """No search words: the entries matching the filters, most recently updated first."""
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    where, dates = filters.sql(params)
    rows = _rows(connection, f"SELECT {_COLUMNS} FROM memory_entries e WHERE {where} "
                 "ORDER BY e.updated_at DESC, e.pk DESC LIMIT :limit OFFSET :offset", params, dates)
    for row in rows:
        row["relevance"] = None
        row["snip"] = None
    total = offset + len(rows) if len(rows) < limit and (rows or offset == 0) else \
        _count(connection, f"SELECT count(*) FROM memory_entries e WHERE {where}", params, dates)
    return rows, total
