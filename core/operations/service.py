"""Start, end and read 202 operations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from core.db import session_scope
from core.errors import NotFound
from core.ids import new_id
from core.operations.tables import OperationRow


class OperationInfo(BaseModel):
    id: str
    kind: str
    resource_type: str
    resource_id: str
    status: str
    result: dict[str, Any]
    error: str | None
    created_at: datetime
    completed_at: datetime | None


def _aware(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def start_operation(kind: str, resource_type: str, resource_id: str, owner: str | None) -> str:
    operation_id = new_id("op")
    with session_scope() as session:
        session.add(OperationRow(id=operation_id, kind=kind, resource_type=resource_type, resource_id=resource_id,
                                 owner=owner))
    return operation_id


def finish_operation(operation_id: str, *, status: str = "succeeded", result: dict[str, Any] | None = None,
                     error: str | None = None) -> None:
    with session_scope() as session:
        row = session.get(OperationRow, operation_id)
        if row is not None and row.status == "running":
            row.status, row.result, row.error = status, result or {}, error
            row.completed_at = datetime.now(UTC)
            session.add(row)


def get_operation(operation_id: str) -> OperationInfo:
    with session_scope() as session:
        row = session.get(OperationRow, operation_id)
        if row is None:
            raise NotFound("operation", operation_id)
        return OperationInfo(id=row.id, kind=row.kind, resource_type=row.resource_type, resource_id=row.resource_id,
                             status=row.status, result=row.result, error=row.error,
                             created_at=_aware(row.created_at) or row.created_at,
                             completed_at=_aware(row.completed_at))
