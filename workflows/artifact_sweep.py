"""ArtifactSweepWorkflow: one retention sweep of the artifact store, started by a Temporal Schedule
(`core.artifacts.schedule.ensure_schedule`)."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.names import ARTIFACT_SWEEP_WORKFLOW, SWEEP_EXPIRED_ARTIFACTS


@workflow.defn(name=ARTIFACT_SWEEP_WORKFLOW)
class ArtifactSweepWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            SWEEP_EXPIRED_ARTIFACTS, result_type=int, start_to_close_timeout=timedelta(minutes=30),
            retry_policy=RetryPolicy(maximum_attempts=5, initial_interval=timedelta(seconds=1)))
