"""The run projection writer (`runs` table): a run's snapshot → the row list views filter, sort and count."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table

from core.events.contracts import EntityRecord
from core.pipelines.models import RunState
from core.pipelines.tables import RunRow


class RunProjection:
    kind = "run"

    def row(self, request: EntityRecord) -> tuple[Table, dict[str, Any]]:
        run = RunState.model_validate(request.snapshot)
        return RunRow.__table__, {  # type: ignore[attr-defined]
            "id": run.id, "workflow_id": run.workflowId, "version": run.version, "status": run.status.value,
            "seq": request.seq, "inputs": run.inputs, "state": request.snapshot, "error": run.error,
            "started_at": run.startedAt, "ended_at": run.endedAt, "created_at": datetime.now(UTC),
            "started_by": run.startedBy.id if run.startedBy else None, "rerun_of": run.rerunOf,
        }


RUN_PROJECTION = RunProjection()
