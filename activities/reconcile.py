"""The reconciliation activity: repairs the projections from Temporal (`core.reconcile.service.reconcile`) with the
worker's own client, heartbeating as it goes. Idempotent: a second pass finds nothing left to fix."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from core import names
from core.reconcile.contracts import ReconcileRequest
from core.reconcile.service import reconcile


@activity.defn(name=names.RECONCILE_PROJECTIONS)
async def reconcile_projections(request: ReconcileRequest) -> dict[str, Any]:
    report = await reconcile(activity.client(), dry_run=request.dry_run, kinds=request.kinds, only=request.only,
                             heartbeat=activity.heartbeat)
    return report.model_dump(mode="json")
