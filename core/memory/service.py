"""Shared memory: every operation once (store, get, search, update, delete, stats, sweep, read_context).

Both REST dialects, the `memory-store`/`memory-read` DSL actions, the TTL sweep workflow and the LLM executor
(`read_context`) call this module, so an entry means the same everywhere.

Rules kept here:

* **One store.** One `MemoryService` per database URL (`service_for`); the app's settings pick the URL.
* **No lost writes.** Every write is one transaction that first takes the key's write lock — SQLite: the
  database write lock (`BEGIN IMMEDIATE`, so a read-modify-write never races), PostgreSQL: `SELECT … FOR UPDATE`
  on the entry (a first insert racing another is retried) — then reads the current version, checks `If-Match`,
  the size limit and the quota, and writes entry, tags and version row together. Versions are 1, 2, 3… per key.
* **TTL.** Every read filters on `expires_at`, so an expired entry is never returned, swept or not. The sweep
  deletes expired entries with their versions and appends one `memory.expired` event each.
* **Access** (docs/access.md). Every entry belongs to the user who created it (`system` for pipelines). Reads:
  `private` — the owner only; `shared` — every authenticated user; `public` — the same, and also internal readers
  that act for no user. Writes (a new version, update, delete, access level): the owner only. Admins read and
  write every entry. Another user's private entry is reported as not found (404); a visible entry that is not
  the caller's to write is a 403.
* **Quota.** Bytes of live values an owner holds (`memory_bytes`), checked against the writer's tier before
  anything is written; a refused write writes nothing.
"""

from __future__ import annotations

import copy
import html
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy import bindparam, delete, false, func, insert, or_, select, text, true, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session

from core.db import engine_for
from core.errors import Conflict, Forbidden, NotFound, PreconditionFailed
from core.events.tables import EventRow
from core.ids import new_id
from core.limits.quotas import check_quota, quota_limit
from core.memory import query as search_query
from core.memory import search as backends
from core.memory.cache import Cached, ReadCache
from core.memory.tables import (
    SEARCH_TEXT_MAX,
    MemoryEntryRow,
    MemoryTagRow,
    MemoryVersionRow,
    filter_terms,
)
from core.memory.values import (
    check_access_level,
    check_key,
    check_namespace,
    check_tags,
    check_ttl,
    encode,
    flatten,
    merge_patch,
    preview,
)
from core.settings import Settings, get_settings

log = logging.getLogger("stellarflow.memory")
T = TypeVar("T")
E = MemoryEntryRow
V = MemoryVersionRow
ACCESS_FLUSH_S = 1.0
SWEEP_BATCH = 500
SYSTEM_OWNER = "system"
DEFAULT_NAMESPACE = "default"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime | None) -> datetime | None:
    """SQLite hands timestamps back naive (they are stored in UTC); PostgreSQL aware."""
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Caller:
    """Who reads or writes. `owner` None is an internal reader acting for no user (it sees shared and public
    entries, never private ones) or a system writer (entries it creates belong to `system`). `tier` None is not
    held to a quota (internal writers). `admin`: reads and writes every entry."""

    owner: str | None
    tier: str | None = None
    name: str | None = None
    admin: bool = False


class MemoryEntry(BaseModel):
    id: str
    namespace: str
    key: str
    value: Any = None
    tags: list[str]
    access_level: str
    owner: str
    ttl: int | None
    expires_at: datetime | None
    version: int
    size: int
    created_at: datetime
    updated_at: datetime
    accessed_count: int
    last_accessed: datetime | None
    latest_version: int | None = None  # set on a `?version=N` read of an older version


class SearchHit(BaseModel):
    id: str
    namespace: str
    key: str
    relevance: float | None
    snippet: str
    preview: str
    tags: list[str]
    size: int
    version: int
    access_level: str
    created_at: datetime
    updated_at: datetime
    accessed_count: int
    last_accessed: datetime | None
    expires_at: datetime | None


class SearchResult(BaseModel):
    hits: list[SearchHit]
    total: int
    took_ms: float


class DeleteResult(BaseModel):
    namespace: str
    keys: list[str]
    versions_deleted: int


class NamespaceUsage(BaseModel):
    name: str
    entries: int
    size: int


class MemoryStats(BaseModel):
    total_entries: int
    namespaces: int
    size_bytes: int
    cache_hits: int
    cache_misses: int
    hit_rate: float
    top_namespaces: list[NamespaceUsage]
    used: int
    limit: int | None
    percentage: float | None


class ExpiredEntry(BaseModel):
    id: str
    namespace: str
    key: str
    version: int
    expired_at: datetime


def _visible(caller: Caller) -> Any:
    if caller.admin:
        return true()
    if caller.owner is None:
        return E.access_level != "private"
    return or_(E.access_level != "private", E.owner == caller.owner)


def _writable(caller: Caller) -> Any:
    if caller.admin:
        return true()
    return E.owner == caller.owner if caller.owner is not None else false()


def _alive(now: datetime) -> Any:
    return or_(E.expires_at.is_(None), E.expires_at > now)  # type: ignore[union-attr]


def _may_see(access_level: str, owner: str, caller: Caller) -> bool:
    return caller.admin or access_level != "private" or (caller.owner is not None and owner == caller.owner)


def _may_write(owner: str, caller: Caller) -> bool:
    return caller.admin or (caller.owner is not None and owner == caller.owner)


def _require_write(row: MemoryEntryRow, caller: Caller) -> None:
    """A visible entry that is not the caller's: 403 (one they cannot see was a 404 already)."""
    if not _may_write(row.owner, caller):
        raise Forbidden("Only the entry's owner or an admin may change it",
                        details={"namespace": row.namespace, "key": row.key, "owner": row.owner})


def _expired(expires_at: datetime | None, now: datetime) -> bool:
    moment = as_utc(expires_at)
    return moment is not None and moment <= now


def _tags(tags_text: str) -> list[str]:
    return tags_text.split() if tags_text else []


def _highlight(snippet: str | None) -> str:
    """Escape the database's snippet as HTML text, then turn its markers into <mark>…</mark>."""
    if not snippet:
        return ""
    return html.escape(snippet, quote=False).replace(backends.OPEN, "<mark>").replace(backends.CLOSE, "</mark>")


def _expiry(ttl: int | None, now: datetime) -> tuple[int | None, datetime | None]:
    ttl = check_ttl(ttl)
    if not ttl:  # omitted, null or 0: kept until deleted
        return None, None
    return ttl, now + timedelta(seconds=ttl)


def _check_if_match(if_match: int | None, current: int | None) -> None:
    if if_match is None:
        return
    if current is None:
        raise PreconditionFailed("If-Match names a version, but the entry does not exist",
                                 details={"expected": if_match, "current": None})
    if current != if_match:
        raise PreconditionFailed(f"Entry is at version {current}, not {if_match}: read it again and retry",
                                 details={"expected": if_match, "current": current})


class MemoryService:
    def __init__(self, engine: Engine, *, cache_entries: int = 10_000) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.cache = ReadCache(cache_entries)
        self._access: dict[int, tuple[int, datetime]] = {}  # pk -> (reads not yet written, last read)
        self._access_lock = threading.Lock()
        self._flushed_at = time.monotonic()

    # ---- transactions ------------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            if self.dialect == "sqlite":
                # Take the write lock first: a deferred transaction that read and then writes fails with
                # SQLITE_BUSY when another writer got in between; this one waits its turn (busy_timeout).
                session.connection().exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise

    def _run_write(self, work: Callable[[Session], T]) -> T:
        """Run `work` in a write transaction; a first insert that lost a race (PostgreSQL) is retried and then
        finds the winner's row."""
        for attempt in range(6):
            try:
                with self._write() as session:
                    return work(session)
            except IntegrityError:
                if attempt == 5:
                    raise Conflict("Too many concurrent writes to this key; retry") from None
                time.sleep(0.002 * (attempt + 1))
        raise AssertionError("unreachable")

    def _lock_entry(self, session: Session, namespace: str, key: str) -> MemoryEntryRow | None:
        statement = select(E).where(E.namespace == namespace, E.key == key)
        if self.dialect == "postgresql":
            statement = statement.with_for_update()
        return session.scalars(statement).first()

    # ---- writes ------------------------------------------------------------------------------------------

    def store(self, caller: Caller, namespace: str, key: str, value: Any, *, tags: list[str] | None = None,
              ttl: int | None = None, access_level: str | None = None, if_match: int | None = None,
              settings: Settings | None = None, dedupe: bool = False) -> MemoryEntry:
        """Create the key, or write a new version of it (its tags, TTL and value are replaced). `dedupe`: when
        the latest version was written by the same `caller.name` with the same value and tags, return it instead
        of writing again (a retried activity)."""
        settings = settings or get_settings()
        check_namespace(namespace)
        check_key(key)
        tags = check_tags(tags)
        if access_level is not None:
            check_access_level(access_level)
        check_ttl(ttl)
        value_json, size = encode(value, settings.memory_max_entry_bytes)
        search_text = flatten(value, SEARCH_TEXT_MAX)

        def work(session: Session) -> MemoryEntry:
            now = utcnow()
            row = self._lock_entry(session, namespace, key)
            if row is not None and _expired(row.expires_at, now):
                self._drop(session, row)  # an expired entry is gone; this store starts a new one
                row = None
            if row is not None and not _may_see(row.access_level, row.owner, caller):
                raise Conflict("This key is held privately by another user in this namespace; choose another key",
                               details={"field": "key", "namespace": namespace, "key": key})
            if row is not None:
                _require_write(row, caller)
            _check_if_match(if_match, row.version if row is not None else None)
            if dedupe and row is not None and self._same_write(session, row, caller, value_json, tags, access_level):
                return self._snapshot(row, value, tags)
            if row is not None and access_level is not None and access_level != row.access_level:
                self._owner_only(row, caller)
            owner = row.owner if row is not None else (caller.owner or SYSTEM_OWNER)
            self._check_quota(session, caller, owner, size - (row.size if row is not None else 0), now, settings)
            ttl_s, expires_at = _expiry(ttl, now)
            if row is None:
                row = E(id=new_id("mem"), namespace=namespace, key=key, owner=owner, created_at=now,
                        version=self._next_version(session, namespace, key), value_json=value_json,
                        search_text=search_text, access_level=access_level or "shared", updated_at=now)
            else:
                row.version += 1
            self._apply(row, value_json, search_text, size, tags, ttl_s, expires_at, now)
            if access_level is not None:
                row.access_level = access_level
            return self._commit_version(session, row, caller, value, tags)

        entry = self._run_write(work)
        self._cache_written(entry)
        return entry

    def update(self, caller: Caller, namespace: str, key: str, value: Any, *, merge: bool = False,
               create_version: bool = True, tags: list[str] | None = None, ttl: int | None = None,
               access_level: str | None = None, if_match: int | None = None,
               settings: Settings | None = None) -> MemoryEntry:
        """Write a new version of an existing key. `merge` applies `value` as an RFC 7386 merge patch to the
        current value; `create_version=False` does not keep the superseded version. Tags, TTL and access level
        change only when given."""
        settings = settings or get_settings()
        check_namespace(namespace)
        check_key(key)
        new_tags = check_tags(tags) if tags is not None else None
        if access_level is not None:
            check_access_level(access_level)
        check_ttl(ttl)
        if not merge:
            encode(value, settings.memory_max_entry_bytes)  # too large: refused before any lock is taken

        def work(session: Session) -> MemoryEntry:
            now = utcnow()
            row = self._lock_entry(session, namespace, key)
            if row is None or _expired(row.expires_at, now) or not _may_see(row.access_level, row.owner, caller):
                raise NotFound("memory entry", f"{namespace}/{key}")
            _require_write(row, caller)
            _check_if_match(if_match, row.version)
            if access_level is not None and access_level != row.access_level:
                self._owner_only(row, caller)
            new_value = merge_patch(json.loads(row.value_json), value) if merge else value
            value_json, size = encode(new_value, settings.memory_max_entry_bytes)
            self._check_quota(session, caller, row.owner, size - row.size, now, settings)
            superseded = row.version
            row.version += 1
            ttl_s, expires_at = _expiry(ttl, now) if ttl is not None else (row.ttl, row.expires_at)
            final_tags = new_tags if new_tags is not None else _tags(row.tags_text)
            self._apply(row, value_json, flatten(new_value, SEARCH_TEXT_MAX), size, final_tags, ttl_s, expires_at,
                        now)
            if access_level is not None:
                row.access_level = access_level
            entry = self._commit_version(session, row, caller, new_value, final_tags)
            if not create_version:
                session.execute(delete(V).where(V.namespace == namespace, V.key == key, V.version == superseded))
            return entry

        entry = self._run_write(work)
        self._cache_written(entry)
        return entry

    def delete(self, caller: Caller, namespace: str, key: str, *, cascade: bool = False,
               if_match: int | None = None) -> DeleteResult:
        """Delete the live entry (its version history stays readable with `?version=N` and numbering continues
        if the key is stored again). `cascade` also deletes every version and the child keys `key/…` the caller
        may write, with their versions."""
        check_namespace(namespace)
        check_key(key)

        def work(session: Session) -> DeleteResult:
            now = utcnow()
            row = self._lock_entry(session, namespace, key)
            live = row is not None and not _expired(row.expires_at, now) and \
                _may_see(row.access_level, row.owner, caller)
            if live and row is not None:
                _require_write(row, caller)
            children: list[MemoryEntryRow] = []
            if cascade:
                prefix = key + "/"
                children = list(session.scalars(select(E).where(
                    E.namespace == namespace, func.substr(E.key, 1, len(prefix)) == prefix,
                    _writable(caller))).all())
            if not live and not children:
                raise NotFound("memory entry", f"{namespace}/{key}")
            _check_if_match(if_match, row.version if live and row is not None else None)
            keys: list[str] = []
            versions = 0
            if row is not None and (live or _expired(row.expires_at, now)):
                self._delete_rows(session, [row])
                if live:
                    keys.append(key)
            if cascade:
                self._delete_rows(session, children)
                keys.extend(child.key for child in children if not _expired(child.expires_at, now))
                for name in [key, *[child.key for child in children]]:
                    versions += session.execute(delete(V).where(V.namespace == namespace, V.key == name)).rowcount
            return DeleteResult(namespace=namespace, keys=keys, versions_deleted=versions)

        result = self._run_write(work)
        self.cache.invalidate(namespace, key)
        if cascade:
            self.cache.invalidate_children(namespace, key)
        return result

    def sweep_expired(self, *, batch: int = SWEEP_BATCH) -> list[ExpiredEntry]:
        """Delete expired entries (with their versions) and append a `memory.expired` event for each, in the
        same transaction per batch. Idempotent: a retried sweep finds nothing it already deleted."""
        swept: list[ExpiredEntry] = []
        while True:
            def work(session: Session) -> list[ExpiredEntry]:
                now = utcnow()
                rows = list(session.scalars(select(E).where(E.expires_at <= now)  # type: ignore[operator]
                                            .order_by(E.expires_at).limit(batch)).all())
                done = []
                for row in rows:
                    expired_at = as_utc(row.expires_at) or now
                    done.append(ExpiredEntry(id=row.id, namespace=row.namespace, key=row.key, version=row.version,
                                             expired_at=expired_at))
                    session.add(EventRow(resource_id=row.id, seq=row.version, type="memory.expired", at=now,
                                         data={"namespace": row.namespace, "key": row.key, "version": row.version,
                                               "owner": row.owner, "expiredAt": expired_at.isoformat()}))
                    session.execute(delete(V).where(V.namespace == row.namespace, V.key == row.key))
                self._delete_rows(session, rows)
                session.execute(delete(V).where(V.expires_at <= now))  # type: ignore[operator]
                return done

            done = self._run_write(work)
            for item in done:
                self.cache.invalidate(item.namespace, item.key)
            swept.extend(done)
            if len(done) < batch:
                return swept

    def bulk_import(self, owner: str, items: list[dict[str, Any]], *, settings: Settings | None = None) -> int:
        """Load many new entries in one transaction through the same tables, triggers and indexes as `store`
        (for loaders and the benchmark): no quota, no per-key locking, so the keys must not exist yet. Each item:
        `namespace`, `key`, `value`, optional `tags`, `ttl`, `access_level`."""
        settings = settings or get_settings()
        now = utcnow()
        entries, tag_rows, versions = [], [], []
        for item in items:
            namespace, key = check_namespace(item["namespace"]), check_key(item["key"])
            tags = check_tags(item.get("tags"))
            value_json, size = encode(item["value"], settings.memory_max_entry_bytes)
            ttl_s, expires_at = _expiry(item.get("ttl"), now)
            level = check_access_level(item.get("access_level", "shared"))
            entry_id = new_id("mem")
            entries.append({"id": entry_id, "namespace": namespace, "key": key, "value_json": value_json,
                            "search_text": flatten(item["value"], SEARCH_TEXT_MAX), "tags_text": " ".join(tags),
                            "filter_terms": filter_terms(namespace, tags), "access_level": level, "owner": owner,
                            "ttl": ttl_s, "expires_at": expires_at, "version": 1, "size": size, "created_at": now,
                            "updated_at": now, "accessed_count": 0, "last_accessed": None})
            versions.append({"namespace": namespace, "key": key, "version": 1, "entry_id": entry_id,
                             "value_json": value_json, "tags_text": " ".join(tags), "access_level": level,
                             "owner": owner, "author": owner, "size": size, "expires_at": expires_at,
                             "created_at": now})
            tag_rows.append(tags)
        with self._write() as session:
            session.execute(insert(E), entries)
            pks = dict(session.execute(select(E.id, E.pk).where(E.id.in_([e["id"] for e in entries]))).all())
            rows = [{"entry_pk": pks[e["id"]], "tag": tag} for e, tags in zip(entries, tag_rows, strict=True)
                    for tag in tags]
            if rows:
                session.execute(insert(MemoryTagRow), rows)
            session.execute(insert(V), versions)
        return len(entries)

    # ---- reads -------------------------------------------------------------------------------------------

    def get(self, caller: Caller, namespace: str, key: str, *, version: int | None = None) -> MemoryEntry:
        """The live entry (through the read cache), or one kept version. Counts as an access."""
        check_namespace(namespace)
        check_key(key)
        self._flush_access()
        now = utcnow()
        if version is not None:
            return self._get_version(caller, namespace, key, version, now)
        cached = self.cache.get(namespace, key)
        with Session(self.engine) as session:
            if cached is None:
                row = session.execute(select(E).where(E.namespace == namespace, E.key == key)).scalars().first()
                meta = row
            else:
                meta = session.execute(select(
                    E.pk, E.id, E.version, E.owner, E.access_level, E.ttl, E.expires_at, E.size, E.created_at,
                    E.updated_at, E.accessed_count, E.last_accessed,
                ).where(E.namespace == namespace, E.key == key)).first()
                row = None
            if meta is None or _expired(meta.expires_at, now) or not _may_see(meta.access_level, meta.owner, caller):
                raise NotFound("memory entry", f"{namespace}/{key}")
            if cached is not None and cached.pk == meta.pk and cached.version == meta.version:
                self.cache.count(hit=True)
                value, tags = cached.value, list(cached.tags)
            else:
                self.cache.count(hit=False)
                if row is None:
                    found = session.execute(select(E.value_json, E.tags_text, E.version).where(E.pk == meta.pk)).first()
                    if found is None or found.version != meta.version:  # rewritten in between: read it all again
                        return self.get(caller, namespace, key)
                    value_json, tags_text = found.value_json, found.tags_text
                else:
                    value_json, tags_text = row.value_json, row.tags_text
                value, tags = json.loads(value_json), _tags(tags_text)
                self.cache.put(namespace, key, Cached(meta.pk, meta.version, value, tuple(tags), meta.size))
        pending = self._touch(meta.pk, now)
        return MemoryEntry(id=meta.id, namespace=namespace, key=key, value=value, tags=tags,
                           access_level=meta.access_level, owner=meta.owner, ttl=meta.ttl,
                           expires_at=as_utc(meta.expires_at), version=meta.version, size=meta.size,
                           created_at=as_utc(meta.created_at), updated_at=as_utc(meta.updated_at),
                           accessed_count=meta.accessed_count + pending, last_accessed=now)

    def _get_version(self, caller: Caller, namespace: str, key: str, version: int, now: datetime) -> MemoryEntry:
        with Session(self.engine) as session:
            row = session.get(V, (namespace, key, version))
            live = session.execute(select(E.version, E.expires_at, E.created_at, E.accessed_count, E.last_accessed)
                                   .where(E.namespace == namespace, E.key == key)).first()
        if row is None or _expired(row.expires_at, now) or not _may_see(row.access_level, row.owner, caller) or \
                (live is not None and _expired(live.expires_at, now)):
            raise NotFound("memory entry version", f"{namespace}/{key}@{version}")
        return MemoryEntry(id=row.entry_id, namespace=namespace, key=key, value=json.loads(row.value_json),
                           tags=_tags(row.tags_text), access_level=row.access_level, owner=row.owner, ttl=None,
                           expires_at=as_utc(row.expires_at), version=row.version, size=row.size,
                           created_at=as_utc(live.created_at if live is not None else row.created_at),
                           updated_at=as_utc(row.created_at),
                           accessed_count=live.accessed_count if live is not None else 0,
                           last_accessed=as_utc(live.last_accessed) if live is not None else None,
                           latest_version=live.version if live is not None else None)

    def search(self, caller: Caller, text_query: str | None, *, namespace: str | None = None,
               tags: list[str] | None = None, before: datetime | None = None, after: datetime | None = None,
               limit: int = 20, offset: int = 0, field: str = "pattern", tags_field: str = "tags") -> SearchResult:
        """Full-text search over keys, values (flattened) and tags, ranked by the engine's relevance; without a
        query, the entries matching the filters, newest first. `total` counts every match."""
        started = time.perf_counter()
        if namespace is not None:
            check_namespace(namespace)
        tags = check_tags(tags, tags_field)
        parsed = search_query.parse(text_query, field) if text_query is not None and text_query.strip() else None
        filters = backends.Filters(now=utcnow(), owner=caller.owner, admin=caller.admin, namespace=namespace, tags=tags,
                                   before=as_utc(before), after=as_utc(after),
                                   postgres=self.dialect == "postgresql")
        with self.engine.connect() as connection:
            if self.dialect == "postgresql":
                # psycopg prepares a statement it has run 5 times, and PostgreSQL may then keep one generic plan for
                # any parameters, blind to how common the words are (a tag filter: 21 ms instead of 6 at 20k
                # entries). Plan each search for its own words; the transaction ends with the connection.
                connection.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
            try:
                if parsed is None:
                    rows, total = backends.list_filtered(connection, filters, limit, offset)
                elif self.dialect == "postgresql":
                    rows, total = backends.search_postgres(connection, parsed, filters, limit, offset)
                else:
                    rows, total = backends.search_sqlite(connection, parsed, filters, limit, offset)
            except OperationalError as err:  # the grammar should make this impossible; never a 500 for a query
                if "fts5" not in str(err).lower():
                    raise
                raise search_query.bad_query(field, "The search engine could not read this query", text_query or "") \
                    from None
        hits = [SearchHit(id=r["id"], namespace=r["namespace"], key=r["key"], relevance=r["relevance"],
                          snippet=_highlight(r["snip"]) or html.escape(preview(r["head"] or ""), quote=False),
                          preview=preview(r["head"] or ""), tags=_tags(r["tags_text"]), size=r["size"],
                          version=r["version"], access_level=r["access_level"], created_at=as_utc(r["created_at"]),
                          updated_at=as_utc(r["updated_at"]),
                          accessed_count=r["accessed_count"] + self._pending(r["pk"]),
                          last_accessed=self._last_read(r["pk"], r["last_accessed"]),
                          expires_at=as_utc(r["expires_at"]))
                for r in rows]
        return SearchResult(hits=hits, total=total, took_ms=round((time.perf_counter() - started) * 1000, 3))

    def stats(self, caller: Caller, *, tier: str | None = None, settings: Settings | None = None,
              top: int = 10) -> MemoryStats:
        """What the caller can see (entries, namespaces, bytes, the biggest namespaces), this process's read
        cache counters, and the caller's own bytes against their tier's `memory_bytes` quota."""
        settings = settings or get_settings()
        now = utcnow()
        with Session(self.engine) as session:
            per_namespace = session.execute(
                select(E.namespace, func.count(), func.coalesce(func.sum(E.size), 0))
                .where(_visible(caller), _alive(now)).group_by(E.namespace)).all()
            used = 0
            if caller.owner is not None:
                used = int(session.execute(select(func.coalesce(func.sum(E.size), 0))
                                           .where(E.owner == caller.owner, _alive(now))).scalar_one())
        namespaces = sorted((NamespaceUsage(name=n, entries=int(c), size=int(s)) for n, c, s in per_namespace),
                            key=lambda item: (-item.entries, -item.size, item.name))
        limit = quota_limit(tier, "memory_bytes", settings) if tier is not None else None
        hits, misses = self.cache.hits, self.cache.misses
        return MemoryStats(total_entries=sum(n.entries for n in namespaces), namespaces=len(namespaces),
                           size_bytes=sum(n.size for n in namespaces), cache_hits=hits, cache_misses=misses,
                           hit_rate=round(hits / (hits + misses), 4) if hits + misses else 0.0,
                           top_namespaces=namespaces[:top], used=used, limit=limit,
                           percentage=round(used / limit, 6) if limit else (None if limit is None else 1.0))

    # ---- internals ---------------------------------------------------------------------------------------

    @staticmethod
    def _owner_only(row: MemoryEntryRow, caller: Caller) -> None:
        if not _may_write(row.owner, caller):
            raise Forbidden("Only the entry's owner may change its access_level",
                            details={"field": "access_level", "owner": row.owner})

    def _check_quota(self, session: Session, caller: Caller, owner: str, delta: int, now: datetime,
                     settings: Settings) -> None:
        if caller.tier is None or delta <= 0:
            return
        if quota_limit(caller.tier, "memory_bytes", settings) is None:
            return
        if self.dialect == "postgresql":  # one writer per owner at a time while the sum is checked
            session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:owner))"), {"owner": owner})
        used = int(session.execute(select(func.coalesce(func.sum(E.size), 0))
                                   .where(E.owner == owner, _alive(now))).scalar_one())
        check_quota(caller.tier, "memory_bytes", used, delta, settings=settings)

    @staticmethod
    def _same_write(session: Session, row: MemoryEntryRow, caller: Caller, value_json: str, tags: list[str],
                    access_level: str | None) -> bool:
        if row.value_json != value_json or row.tags_text != " ".join(tags):
            return False
        if access_level is not None and access_level != row.access_level:
            return False
        author = session.execute(select(V.author).where(V.namespace == row.namespace, V.key == row.key,
                                                        V.version == row.version)).scalar()
        return author is not None and author == caller.name

    @staticmethod
    def _next_version(session: Session, namespace: str, key: str) -> int:
        """After a plain delete the key's history stays, so numbering continues after it."""
        latest = session.execute(select(func.max(V.version)).where(V.namespace == namespace, V.key == key)).scalar()
        return (latest or 0) + 1

    @staticmethod
    def _apply(row: MemoryEntryRow, value_json: str, search_text: str, size: int, tags: list[str],
               ttl: int | None, expires_at: datetime | None, now: datetime) -> None:
        row.value_json, row.search_text, row.size = value_json, search_text, size
        row.tags_text = " ".join(tags)
        row.filter_terms = filter_terms(row.namespace, tags)
        row.ttl, row.expires_at, row.updated_at = ttl, expires_at, now

    def _commit_version(self, session: Session, row: MemoryEntryRow, caller: Caller, value: Any,
                        tags: list[str]) -> MemoryEntry:
        session.add(row)
        session.flush()  # assigns pk for a new row
        assert row.pk is not None
        session.execute(delete(MemoryTagRow).where(MemoryTagRow.entry_pk == row.pk))
        if tags:
            session.execute(insert(MemoryTagRow), [{"entry_pk": row.pk, "tag": tag} for tag in tags])
        session.add(V(namespace=row.namespace, key=row.key, version=row.version, entry_id=row.id,
                      value_json=row.value_json, tags_text=row.tags_text, access_level=row.access_level,
                      owner=row.owner, author=caller.name or caller.owner, size=row.size,
                      expires_at=row.expires_at, created_at=row.updated_at))
        session.flush()
        return self._snapshot(row, value, tags)

    def _snapshot(self, row: MemoryEntryRow, value: Any, tags: list[str]) -> MemoryEntry:
        return MemoryEntry(id=row.id, namespace=row.namespace, key=row.key, value=value, tags=tags,
                           access_level=row.access_level, owner=row.owner, ttl=row.ttl,
                           expires_at=as_utc(row.expires_at), version=row.version, size=row.size,
                           created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
                           accessed_count=row.accessed_count + self._pending(row.pk),
                           last_accessed=self._last_read(row.pk, row.last_accessed))

    def _cache_written(self, entry: MemoryEntry) -> None:
        with Session(self.engine) as session:  # the pk, for the cache's identity check
            pk = session.execute(select(E.pk).where(E.id == entry.id)).scalar()
        if pk is None:
            self.cache.invalidate(entry.namespace, entry.key)
        else:
            self.cache.put(entry.namespace, entry.key,
                           Cached(pk, entry.version, entry.value, tuple(entry.tags), entry.size))

    def _drop(self, session: Session, row: MemoryEntryRow) -> None:
        """Remove an expired entry found by a write, as the sweep would (the sweep writes the event)."""
        session.add(EventRow(resource_id=row.id, seq=row.version, type="memory.expired", at=utcnow(),
                             data={"namespace": row.namespace, "key": row.key, "version": row.version,
                                   "owner": row.owner, "expiredAt": (as_utc(row.expires_at) or utcnow()).isoformat()}))
        session.execute(delete(V).where(V.namespace == row.namespace, V.key == row.key))
        self._delete_rows(session, [row])
        session.flush()

    @staticmethod
    def _delete_rows(session: Session, rows: list[MemoryEntryRow]) -> None:
        pks = [row.pk for row in rows if row.pk is not None]
        if not pks:
            return
        session.execute(delete(MemoryTagRow).where(MemoryTagRow.entry_pk.in_(pks)))  # type: ignore[attr-defined]
        session.execute(delete(E).where(E.pk.in_(pks)))  # type: ignore[union-attr]
        for row in rows:
            if row in session:
                session.expunge(row)

    # Reads are counted in this process and written in one batched UPDATE at most once a second, so a read does
    # not take the write lock. What a crash loses is at most a second of counts; responses add what is pending.

    def _touch(self, pk: int, now: datetime) -> int:
        with self._access_lock:
            count, _ = self._access.get(pk, (0, now))
            self._access[pk] = (count + 1, now)
            return count + 1

    def _pending(self, pk: int | None) -> int:
        with self._access_lock:
            return self._access.get(pk, (0, None))[0] if pk is not None else 0

    def _last_read(self, pk: int | None, stored: datetime | None) -> datetime | None:
        with self._access_lock:
            pending = self._access.get(pk) if pk is not None else None
        return pending[1] if pending is not None else as_utc(stored)

    def _flush_access(self, force: bool = False) -> None:
        if not force and time.monotonic() - self._flushed_at < ACCESS_FLUSH_S:
            return
        with self._access_lock:
            pending, self._access = self._access, {}
            self._flushed_at = time.monotonic()
        if not pending:
            return
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    update(E).where(E.pk == bindparam("entry_pk")).values(
                        accessed_count=E.accessed_count + bindparam("reads"),
                        last_accessed=bindparam("at")),
                    [{"entry_pk": pk, "reads": count, "at": at} for pk, (count, at) in pending.items()])
        except OperationalError as err:  # the database is busy: keep the counts for the next flush
            log.warning("could not write memory access counts yet: %s", err)
            with self._access_lock:
                for pk, (count, at) in pending.items():
                    old, _ = self._access.get(pk, (0, at))
                    self._access[pk] = (old + count, at)

    def flush(self) -> None:
        """Write pending access counts now (tests, shutdown)."""
        self._flush_access(force=True)


_services: dict[str, MemoryService] = {}
_services_lock = threading.Lock()


def service_for(url: str | None = None) -> MemoryService:
    """The one service per database URL in this process (default: the configured database)."""
    settings = get_settings()
    url = url or settings.db_url
    with _services_lock:
        if url not in _services:
            _services[url] = MemoryService(engine_for(url), cache_entries=settings.memory_cache_entries)
        return _services[url]


def read_context(keys: list[str], namespace: str = DEFAULT_NAMESPACE, owner: str | None = None) -> dict[str, Any]:
    """The values of `keys` in `namespace` that `owner` may read (owner None: shared and public entries only),
    for an LLM prompt. Missing, expired and invisible keys are left out; each read counts as an access. The
    values are copies: changing them changes nothing stored."""
    service = service_for()
    caller = Caller(owner=owner)
    found: dict[str, Any] = {}
    for key in keys:
        try:
            found[key] = copy.deepcopy(service.get(caller, namespace, key).value)
        except NotFound:
            continue
    return found


__all__ = ["Caller", "DeleteResult", "ExpiredEntry", "MemoryEntry", "MemoryService", "MemoryStats", "SearchHit",
           "SearchResult", "read_context", "service_for"]
