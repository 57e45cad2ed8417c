"""Counts over the read model for the Prometheus collector: rows per status of each projection table, and step
events per type."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import select

from core.agents.tables import AgentRow, SwarmRow, TaskRow
from core.db import session_scope
from core.events.tables import EventRow
from core.pipelines.tables import RunRow


def status_counts() -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    with session_scope() as session:
        for kind, table in (("runs", RunRow), ("tasks", TaskRow), ("agents", AgentRow), ("swarms", SwarmRow)):
            rows = session.exec(select(table.status, func.count()).group_by(table.status)).all()  # type: ignore[attr-defined]
            found[kind] = {str(status): int(count) for status, count in rows}
        steps = session.exec(select(EventRow.type, func.count()).where(
            EventRow.type.like("step.%")).group_by(EventRow.type)).all()  # type: ignore[attr-defined]
        found["step_events"] = {str(kind): int(count) for kind, count in steps}
    return found
