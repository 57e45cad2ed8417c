"""The projection writer of trainings (`neural_trainings`) for the one record path (`core.events.store.record`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.events.contracts import EntityRecord
from core.neural.models import TrainingState
from core.neural.tables import TrainingRow

KIND = "training"


class TrainingProjection:
    kind = KIND

    @staticmethod
    def row(request: EntityRecord) -> tuple[Any, dict[str, Any]]:
        state = TrainingState.model_validate(request.snapshot)
        return TrainingRow.__table__, {  # type: ignore[attr-defined]
            "id": state.id, "owner": state.owner, "pattern_type": state.pattern_type, "model_id": state.model_id,
            "status": state.status.value, "seq": request.seq, "state": request.snapshot,
            "created_at": state.created_at, "updated_at": state.updated_at or datetime.now(UTC),
        }


TRAINING_PROJECTION = TrainingProjection()
