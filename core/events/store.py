"""The one write path of the read model, and reads of the event log.

`record` appends a resource's unseen events, moves its projection row forward and ends the 202 operations the
write concludes, in one transaction. Every statement is an upsert keyed by (resource id, seq) — `INSERT … ON
CONFLICT`, on SQLite and PostgreSQL alike — so a retried write changes nothing and an older snapshot never replaces
a newer one. Upserts rather than ORM loads and flushes: this runs for every flush of every workflow, and the ORM
path was a quarter of the worker's CPU time in the swarm benchmark (docs/benchmarks.md).

Each kind of resource brings its own `ProjectionWriter` (which table, which columns from the snapshot); the
writers live with their capability (`core.pipelines.projection`, `core.agents.projection`).

Event ids are commit-ordered, so a reader that catches up with `id > since` never misses a row that commits later
with a smaller id (docs/events.md): on PostgreSQL every transaction that inserts events first takes one
transaction-scoped advisory lock (`core.events.ordering`), so ids are drawn and committed one writer at a time; on
SQLite writes are serialised anyway. After inserting, a write announces its highest id (`pg_notify` on PostgreSQL,
delivered at commit; Redis pub/sub after commit when REDIS_URL is set), which wakes the API replicas' stream hubs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Table
from sqlmodel import select

from core.db import get_engine, session_scope
from core.events.contracts import EntityRecord
from core.events.models import Event, StoredEvent
from core.events.ordering import announce, lock_events, published
from core.events.tables import EventRow
from core.operations.tables import OperationRow


class ProjectionWriter(Protocol):
    """How one kind of resource is projected: the table, and the row's values from a snapshot. The row must have
    `id` (primary key), `seq` and `created_at`; `created_at` is only written when the row is inserted."""

    kind: str

    def row(self, request: EntityRecord) -> tuple[Table, dict[str, Any]]: ...


def upsert(dialect: str) -> Any:
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert


def record(request: EntityRecord, writer: ProjectionWriter | None) -> int:
    """Append the request's unseen events, project its snapshot (with `writer`) and end its operations. Returns how
    many events were new."""
    engine = get_engine()
    insert = upsert(engine.dialect.name)
    events = EventRow.__table__  # type: ignore[attr-defined]
    fresh = 0
    newest: int | None = None
    with engine.begin() as conn:
        if request.events:
            lock_events(conn)
            rows = [{"resource_id": request.id, "seq": e.seq, "type": e.type, "at": e.at, "data": e.data}
                    for e in request.events]
            result = conn.execute(insert(events).on_conflict_do_nothing(index_elements=["resource_id", "seq"]), rows)
            fresh = max(result.rowcount or 0, 0)
            if result.rowcount != 0:  # -1: the driver cannot tell (executemany), so announce anyway
                newest = announce(conn)
        if request.snapshot and writer is not None:
            table, values = writer.row(request)
            statement = insert(table).values(**values)
            changes = {name: statement.excluded[name] for name in values if name not in ("id", "created_at")}
            conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=changes,
                                                         where=table.c.seq < statement.excluded.seq))
        if request.operations:
            operations = OperationRow.__table__  # type: ignore[attr-defined]
            for op in request.operations:
                conn.execute(operations.update()
                             .where(operations.c.id == op["id"], operations.c.status == "running")
                             .values(status=op.get("status", "succeeded"), result=op.get("result") or {},
                                     error=op.get("error"), completed_at=datetime.now(UTC)))
    published(newest)
    return fresh


def list_events(resource_id: str, *, after: int = -1, limit: int = 1000) -> list[Event]:
    with session_scope() as session:
        rows = session.exec(
            select(EventRow)
            .where(EventRow.resource_id == resource_id, EventRow.seq > after)
            .order_by(EventRow.seq)  # type: ignore[arg-type]
            .limit(limit)
        ).all()
        return [Event(seq=row.seq, type=row.type, at=row.at, data=row.data) for row in rows]


def repair(request: EntityRecord, writer: ProjectionWriter, *, created_at: datetime | None = None) -> None:
    """Write `request`'s snapshot as the projection row whatever the row's seq (reconciliation, `core.reconcile`):
    the row takes `request.seq`, which the caller keeps at the highest seq seen, so the workflow's next write still
    replaces it. Events are not touched."""
    engine = get_engine()
    insert = upsert(engine.dialect.name)
    table, values = writer.row(request)
    if created_at is not None:  # a rebuilt run row: when Temporal started it, not now
        values["created_at"] = created_at
    statement = insert(table).values(**values)
    changes = {name: statement.excluded[name] for name in values if name not in ("id", "created_at")}
    with engine.begin() as conn:
        conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=changes))


def record_many(requests: list[EntityRecord], writer: ProjectionWriter) -> None:
    """`record` for many resources of one kind in one transaction (snapshots and events; no operations): one
    statement for the events and one for the projection rows, each executed with all their rows."""
    if not requests:
        return
    engine = get_engine()
    insert = upsert(engine.dialect.name)
    events = EventRow.__table__  # type: ignore[attr-defined]
    rows = [{"resource_id": r.id, "seq": e.seq, "type": e.type, "at": e.at, "data": e.data}
            for r in requests for e in r.events]
    projected = [writer.row(request) for request in requests if request.snapshot]
    newest: int | None = None
    with engine.begin() as conn:
        if rows:
            lock_events(conn)
            result = conn.execute(insert(events).on_conflict_do_nothing(index_elements=["resource_id", "seq"]), rows)
            if result.rowcount is None or result.rowcount != 0:
                newest = announce(conn)
        if projected:
            table = projected[0][0]
            values = [row for _, row in projected]
            statement = insert(table)
            changes = {name: statement.excluded[name] for name in values[0] if name not in ("id", "created_at")}
            conn.execute(statement.on_conflict_do_update(index_elements=["id"], set_=changes,
                                                         where=table.c.seq < statement.excluded.seq), values)
    published(newest)


def events_after(since: int, *, limit: int = 500, resource: str | None = None) -> list[StoredEvent]:
    """The next page of the log after id `since`, in id (= commit) order: what the stream hubs read. `resource`
    narrows it to one resource and its sub-resources (`run-1` and `run-1/build/log`), through the resource index."""
    from sqlalchemy import or_

    query = select(EventRow).where(EventRow.id > since)  # type: ignore[operator]
    if resource is not None:
        query = query.where(or_(EventRow.resource_id == resource,
                                EventRow.resource_id.startswith(f"{resource}/", autoescape=True)))  # type: ignore[attr-defined]
    with session_scope() as session:
        rows = session.exec(query.order_by(EventRow.id).limit(limit)).all()  # type: ignore[arg-type]
        return [StoredEvent(id=row.id, resource_id=row.resource_id, seq=row.seq, type=row.type, at=row.at,
                            data=row.data) for row in rows if row.id is not None]


def id_range() -> tuple[int | None, int | None]:
    """(oldest, newest) event id kept, or (None, None) when the log is empty."""
    from sqlalchemy import func

    with session_scope() as session:
        low, high = session.exec(select(func.min(EventRow.id), func.max(EventRow.id))).one()
        return low, high
