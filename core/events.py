"""The write side of the read model: events are appended and the run projection refreshed in one
transaction. Writes are keyed by (resource id, seq), so a retried write changes nothing."""

from __future__ import annotations

from sqlmodel import Session, select

from core.db import EventRow, RunRow, session_scope
from core.models import RecordRequest, RunEvent


def record(request: RecordRequest) -> int:
    """Append unseen events and move the projection forward. Returns how many events were new."""
    run = request.run
    with session_scope() as session:
        seqs = [event.seq for event in request.events]
        seen: set[int] = set()
        if seqs:
            seen = set(
                session.exec(
                    select(EventRow.seq).where(EventRow.resource_id == run.id, EventRow.seq.in_(seqs))  # type: ignore[attr-defined]
                ).all()
            )
        fresh = [event for event in request.events if event.seq not in seen]
        for event in fresh:
            session.add(
                EventRow(resource_id=run.id, seq=event.seq, type=event.type, at=event.at, data=event.data)
            )
        _project(session, request)
        return len(fresh)


def _project(session: Session, request: RecordRequest) -> None:
    run = request.run
    row = session.get(RunRow, run.id)
    if row is None:
        row = RunRow(id=run.id, workflow_id=run.workflowId, version=run.version, status=run.status.value)
    elif row.seq >= request.seq:
        return
    row.status = run.status.value
    row.seq = request.seq
    row.inputs = run.inputs
    row.state = run.model_dump(mode="json")
    row.error = run.error
    row.started_at = run.startedAt
    row.ended_at = run.endedAt
    session.add(row)


def list_events(resource_id: str, *, after: int = -1, limit: int = 1000) -> list[RunEvent]:
    with session_scope() as session:
        rows = session.exec(
            select(EventRow)
            .where(EventRow.resource_id == resource_id, EventRow.seq > after)
            .order_by(EventRow.seq)  # type: ignore[arg-type]
            .limit(limit)
        ).all()
        return [RunEvent(seq=row.seq, type=row.type, at=row.at, data=row.data) for row in rows]
