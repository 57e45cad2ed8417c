"""The projection writer of orchestrations for the one record path (`core.events.store.record`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.events.contracts import EntityRecord
from core.orchestrations.models import OrchestrationState
from core.orchestrations.tables import OrchestrationRow


class OrchestrationProjection:
    kind = "orchestration"

    @staticmethod
    def row(request: EntityRecord) -> tuple[Any, dict[str, Any]]:
        state = OrchestrationState.model_validate(request.snapshot)
        spec = state.spec
        return OrchestrationRow.__table__, {  # type: ignore[attr-defined]
            "id": spec.id, "status": state.status.value, "strategy": spec.strategy.value, "swarm_id": spec.swarm_id,
            "owner": spec.owner, "progress": state.progress, "seq": request.seq, "state": request.snapshot,
            "created_at": spec.created_at, "completed_at": state.completed_at or state.cancelled_at,
            "updated_at": state.updated_at or datetime.now(UTC),
        }


ORCHESTRATION_PROJECTION = OrchestrationProjection()
