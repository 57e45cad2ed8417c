"""ReconcileWorkflow: one repair of the run and entity projections from Temporal (`core.reconcile.service`),
started daily by a Temporal Schedule (`core.reconcile.schedule`). The work is one activity; the report (what was
checked, rebuilt, rewritten, orphaned) is the workflow's result, so the Temporal UI shows what each pass fixed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.names import RECONCILE_PROJECTIONS, RECONCILE_WORKFLOW
    from core.reconcile.contracts import ReconcileRequest


@workflow.defn(name=RECONCILE_WORKFLOW)
class ReconcileWorkflow:
    @workflow.run
    async def run(self, request: ReconcileRequest | None = None) -> dict[str, Any]:
        return await workflow.execute_activity(
            RECONCILE_PROJECTIONS,
            request or ReconcileRequest(),
            result_type=dict,
            start_to_close_timeout=timedelta(hours=1),
            heartbeat_timeout=timedelta(minutes=2),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=10)),
        )
