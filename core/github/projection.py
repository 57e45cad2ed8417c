"""The projection writers of analyses and PR enhancements (`github_jobs`) for the one record path
(`core.events.store.record`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from core.events.contracts import EntityRecord
from core.github.contracts import ANALYSIS_KIND, ENHANCE_KIND
from core.github.tables import GitHubJobRow


class _JobProjection:
    def __init__(self, kind: str) -> None:
        self.kind = kind

    def row(self, request: EntityRecord) -> tuple[Any, dict[str, Any]]:
        snapshot = request.snapshot
        now = datetime.now(UTC)
        return GitHubJobRow.__table__, {  # type: ignore[attr-defined]
            "id": request.id, "kind": self.kind, "owner": snapshot["owner"], "repository": snapshot["repository"],
            "status": snapshot["status"], "seq": request.seq, "state": snapshot, "created_at": now,
            "updated_at": now,
        }


ANALYSIS_PROJECTION = _JobProjection(ANALYSIS_KIND)
ENHANCE_PROJECTION = _JobProjection(ENHANCE_KIND)
