"""MemorySweepWorkflow: one TTL sweep of shared memory, started by a Temporal Schedule
(`core.memory.schedule.ensure_schedules`). Reads never return expired entries whether or not a sweep ran; the
sweep frees their space and leaves a `memory.expired` event for each."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from core.names import MEMORY_SWEEP_WORKFLOW, SWEEP_EXPIRED_MEMORY


@workflow.defn(name=MEMORY_SWEEP_WORKFLOW)
class MemorySweepWorkflow:
    @workflow.run
    async def run(self) -> int:
        return await workflow.execute_activity(
            SWEEP_EXPIRED_MEMORY,
            result_type=int,
            start_to_close_timeout=timedelta(minutes=10),
            retry_policy=RetryPolicy(maximum_attempts=5, initial_interval=timedelta(seconds=1)),
        )
